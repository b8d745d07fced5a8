"""Running one measured command: wall time, CPU time and peak RSS of its process tree, plus the link's counters
and the servers' request count for exactly that run."""
import os
import subprocess
import time


def run(argv, env, link, servers, cwd=None, log=None):
    """Run `argv` to completion through the shaped link; returns a result dict (``ok`` false on a failure).

    CPU time and peak RSS come from `os.wait4` on the child: Linux folds in every descendant the child reaped
    (user + system time summed, RSS the largest single process), so `git` helpers and `curl` loops count too.
    """
    link.reset_counters()
    link.set_shape(True)
    mark = servers.request_mark()
    out = open(log, "ab") if log else subprocess.DEVNULL
    start = time.monotonic()
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if log:
        out.close()
    counters = link.counters()
    link.set_shape(False)
    return dict(ok=proc.returncode == 0, exit=proc.returncode, wall=wall, cpu=usage.ru_utime + usage.ru_stime,
                rss_kib=usage.ru_maxrss, requests=servers.requests_since(mark), **counters)


def untimed(argv, env, link, cwd=None, log=None):
    """Preparation (a first sync, a shallow clone): unshaped, unmeasured, must succeed."""
    link.set_shape(False)
    with open(log or os.devnull, "ab") as out:
        subprocess.run(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=out, check=True)
