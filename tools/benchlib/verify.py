"""Checks on a finished run: a target holds exactly the tree of a commit; smart-sync's JSON summary."""
import hashlib
import json
import os
import subprocess


def tree(repo, commit):
    """path → (mode, blob id) of every blob of `commit` (files and symlinks)."""
    out = {}
    for entry in repo.git("ls-tree", "-r", "-z", commit).split(b"\0"):
        if entry:
            meta, path = entry.split(b"\t", 1)
            mode, kind, sha = meta.split(b" ")
            if kind == b"blob":
                out[os.fsdecode(path)] = (mode.decode(), sha.decode())
    return out


def compare(repo, commit, target):
    """None when `target` holds exactly the blobs of `commit` (each file's git blob id and executable bit, each
    symlink's target, nothing else but directories), else a short description of the first differences."""
    want = tree(repo, commit)
    got, files = {}, []
    for d, dirs, names in os.walk(target):
        for name in names + [x for x in dirs if os.path.islink(os.path.join(d, x))]:
            p = os.path.join(d, name)
            rel = os.path.relpath(p, target)
            if os.path.islink(p):
                target_bytes = os.fsencode(os.readlink(p))
                got[rel] = ("120000", hashlib.sha1(b"blob %d\0" % len(target_bytes) + target_bytes).hexdigest())
            else:
                got[rel] = ("100755" if os.access(p, os.X_OK) else "100644", None)
                files.append(rel)
    hashed = subprocess.run(["git", "hash-object", "--no-filters", "--stdin-paths"], cwd=target, check=True,
                            input=b"\n".join(map(os.fsencode, files)), capture_output=True).stdout.decode().split()
    for rel, sha in zip(files, hashed):
        got[rel] = (got[rel][0], sha)
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
