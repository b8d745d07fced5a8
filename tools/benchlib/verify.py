"""Checks on a finished run: a target equals `git archive` of a commit; smart-sync's JSON summary."""
import hashlib
import json
import os
import shutil
import subprocess


def snapshot(root):
    """path → ("link", target) | ("file", executable, sha256) for everything under `root`."""
    out = {}
    for d, dirs, files in os.walk(root):
        for name in files + [x for x in dirs if os.path.islink(os.path.join(d, x))]:
            p = os.path.join(d, name)
            rel = os.path.relpath(p, root)
            if os.path.islink(p):
                out[rel] = ("link", os.readlink(p))
            else:
                with open(p, "rb") as f:
                    out[rel] = ("file", os.access(p, os.X_OK), hashlib.sha256(f.read()).hexdigest())
    return out


def compare(repo, commit, target, scratch):
    """None when `target` holds exactly `git archive commit`, else a short description of the first differences."""
    os.makedirs(scratch)
    archive = subprocess.run(["git", "-C", repo.path, "archive", commit], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", scratch], input=archive, check=True)
    want, got = snapshot(scratch), snapshot(target)
    shutil.rmtree(scratch, ignore_errors=True)
    if want == got:
        return None
    diff = sorted(set(want.items()) ^ set(got.items()))
    return f"{len(diff)} entries differ, e.g. {[p for p, _ in diff[:5]]}"


def summary_line(log):
    """The last NDJSON `summary` event smart-sync printed (its own account of the run), or None."""
    found = None
    with open(log, errors="replace") as f:
        for line in f:
            if line.startswith("{"):
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if event.get("event") == "summary":
                    found = event
    return found
