"""Running one measured command: wall time, CPU time and peak RSS of its process tree, plus the link's counters
and the servers' request count for exactly that run."""
import os
import shutil
import subprocess
import time

# GNU time reports its child's wait4 rusage. Measured from here directly, a child's peak RSS would include this
# Python process's (Linux keeps the pre-exec high-water mark of a forked child), ~45 MB for every tool.
GNU_TIME = shutil.which("time", path="/usr/bin:/bin")


def run(argv, env, link, servers, cwd=None, log=None):
    """Run `argv` to completion through the shaped link; returns a result dict (``ok`` false on a failure).

    CPU time and peak RSS are the wait4 rusage of the command as GNU time reports it: Linux folds in every
    descendant the command reaped (user + system time summed, RSS the largest single process), so `git` helpers
    and `curl` loops count too. Without GNU time they come from wait4 here, and RSS is an upper bound.
    """
    usage_file = (log or os.devnull) + ".rusage"
    prefix = [GNU_TIME, "-f", "%U %S %M", "-o", usage_file, "--"] if GNU_TIME and log else []
    link.reset_counters()
    link.set_shape(True)
    mark = servers.request_mark()
    out = open(log, "ab") if log else subprocess.DEVNULL
    start = time.monotonic()
    proc = subprocess.Popen(prefix + argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    counters = link.counters()
    link.set_shape(False)
    cpu, rss = usage.ru_utime + usage.ru_stime, usage.ru_maxrss
    if prefix:
        out.close()
        fields = open(usage_file).read().split()[-3:]  # GNU time prefixes a note when the command failed
        cpu, rss = float(fields[0]) + float(fields[1]), int(fields[2])
    return dict(ok=proc.returncode == 0, exit=proc.returncode, wall=wall, cpu=cpu, rss_kib=rss,
                **servers.requests_since(mark), **counters)


def untimed(argv, env, link, cwd=None, log=None):
    """Preparation (a first sync, a shallow clone): unshaped, unmeasured, must succeed."""
    link.set_shape(False)
    with open(log or os.devnull, "ab") as out:
        subprocess.run(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=out, check=True)
