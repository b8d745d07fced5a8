"""Benchmark repositories: generated (deterministic) or an existing local repository, each with commits A and B.

A generated repository looks like a real configuration repository: nested directories of `.nix` modules,
executable `.sh` scripts, `.md` docs, `.json` data, a few symlinks and unicode names, sizes from a long-tailed
distribution (median ~2 KB) plus a few 100 KB - 1 MB files. Commit B edits a few lines in `changes` files
(one of them added, one deleted), so a delta-aware transfer has something to gain.
"""
import json
import math
import os
import random
import shutil
import subprocess
import time

WORDS = ("enable services boot kernel network bridge firewall allowedTCPPorts users groups packages pkgs lib "
         "config options mkIf mkDefault mkForce true false null inherit let in with import imports self inputs "
         "nixpkgs hardware virtualisation libvirtd qemu ovmf vfio iommu interfaces ipv4 addresses prefixLength "
         "address gateway nameservers systemd timers wantedBy after requires serviceConfig ExecStart Restart "
         "environment etc home description type default example str int bool listOf attrsOf submodule").split()
GIT_ENV = {"GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.invalid", "GIT_COMMITTER_NAME": "Bench",
           "GIT_COMMITTER_EMAIL": "bench@example.invalid", "GIT_CONFIG_NOSYSTEM": "1"}
UNICODE_NAMES = ("docs/ünïcødé notes.md", "hosts/café/réseau.nix", "docs/日本語.md", "modules/straße/ℕ-params.nix",
                 "docs/snow ☃.md")


class Repo:
    """A git repository with the two benchmark commits `a` and `b` (full SHAs), and `history`: commits before A
    (oldest first) that a target syncs through before A, so that it has the generations a target that has been
    syncing for a while has."""

    def __init__(self, path, a, b, history=()):
        self.path, self.a, self.b, self.history = path, a, b, list(history)

    def git(self, *args):
        return subprocess.run(["git", "-C", self.path, *args], check=True, capture_output=True,
                              env=dict(os.environ, **GIT_ENV)).stdout

    def files(self, commit):
        """Blob paths of `commit` (files and symlinks; submodules left out)."""
        out = self.git("ls-tree", "-r", "-z", commit).split(b"\0")
        return [e.split(b"\t", 1)[1].decode() for e in out if e and e.split(b" ")[1] == b"blob"]

    def changed(self, old, new):
        """Paths whose blob or mode changed or that were added from `old` to `new` (what a peer must download)."""
        out = self.git("diff", "--no-renames", "--name-status", "-z", old, new).split(b"\0")
        pairs = list(zip(out[0::2], out[1::2]))
        return [p.decode() for status, p in pairs if status and not status.startswith(b"D")]

    def size(self, commit):
        """Total bytes of the blobs of `commit`."""
        out = self.git("ls-tree", "-r", "-l", commit).decode().splitlines()
        return sum(int(line.split()[3]) for line in out if line.split()[1] == "blob")


def _text(rng, size, script=False):
    lines = ["#!/usr/bin/env bash", "set -euo pipefail"] if script else []
    n = sum(len(line) + 1 for line in lines)
    while n < size:
        depth = rng.randint(0, 3)
        words = rng.choices(WORDS, k=rng.randint(2, 7))
        line = "  " * depth + ".".join(words[:2]) + " = " + " ".join(words[2:]) + ";"
        lines.append(line)
        n += len(line) + 1
    return ("\n".join(lines) + "\n").encode()[:max(size, 1)]


def _size(rng, median=2048):
    """Long-tailed: lognormal around `median` bytes (2 KB), cut to 40 B - 60 KB."""
    return int(min(60_000, max(40, rng.lognormvariate(math.log(median), 1.1))))


def _git(path, *args, date=None):
    env = dict(os.environ, **GIT_ENV)
    if date:
        env.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    return subprocess.run(["git", "-C", path, "-c", "commit.gpgsign=false", "-c", "gc.auto=0", *args], check=True,
                          env=env, capture_output=True, text=True).stdout.strip()


def _commit(path, message, tag, date):
    _git(path, "add", "-A")
    _git(path, "commit", "-q", "-m", message, date=date)
    _git(path, "tag", tag)
    return _git(path, "rev-parse", "HEAD")


def _edit(rng, path, paths, changes, added):
    """Commit B's change to the work tree: small edits to `changes - 2` files (one line changed, one appended), one
    file deleted, `added` created."""
    edited = rng.sample([p for p in paths if not p.startswith("assets/")], changes)
    for p in edited[:-2]:
        full = os.path.join(path, p)
        lines = open(full, "rb").read().split(b"\n")
        lines[rng.randrange(len(lines))] = b"  services.bench.edited = %d;" % rng.randint(0, 10**6)
        lines.append(b"# edited in B")
        with open(full, "wb") as f:
            f.write(b"\n".join(lines))
    os.remove(os.path.join(path, edited[-2]))
    with open(os.path.join(path, added), "wb") as f:
        f.write(_text(rng, 1500))


HISTORY = 3  # smart-sync keeps 3 generations by default (--keep-generations): a target synced 4 times has them


def generate(path, files=1000, changes=(12,), seed=6, median=2048):
    """Write a configuration-like repository of about `files` files with commit A, then for each count in
    `changes` a commit B on A changing that many files (tag `b` for the first, `b<count>` for each; the first B's
    random draws continue A's, so `generate(p, 1000, (12,))` has the trees it had before variants existed). Before
    A, HISTORY commits H1, H2, ... (tags h1, ...) that each append a line to 3 files of A's tree (A undoes it).
    Repacked, as a hosted repository is. Returns {count: Repo(path, A, B, [H1, ...])}."""
    rng = random.Random(seed)
    subprocess.run(["git", "init", "-q", "-b", "main", path], check=True)
    areas = ["modules/" + a for a in ("network", "virtualization", "storage", "security", "desktop", "services",
                                      "monitoring", "backup")] + ["hosts/h%02d" % i for i in range(12)]
    paths = []
    for i in range(files - len(UNICODE_NAMES) - 5):
        area = rng.choice(areas)
        sub = "/sub%d" % rng.randint(0, max(1, files // 400)) if rng.random() < 0.6 else ""
        kind = rng.choices(("nix", "sh", "md", "json"), weights=(70, 12, 12, 6))[0]
        top = "scripts" if kind == "sh" else ("docs" if kind == "md" else area + sub)
        paths.append(f"{top}/{kind}-{i:05d}.{kind}")
    paths += UNICODE_NAMES
    for p in paths:
        full = os.path.join(path, p)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            f.write(_text(rng, _size(rng, median), script=p.endswith(".sh")))
        if p.endswith(".sh"):
            os.chmod(full, 0o755)
    for i, size in enumerate((120_000, 300_000, 700_000, 1_000_000)):  # the long tail: a few big assets
        blob = os.path.join(path, f"assets/blob-{i}.{'bin' if i % 2 else 'txt'}")
        os.makedirs(os.path.dirname(blob), exist_ok=True)
        with open(blob, "wb") as f:
            f.write(rng.randbytes(size) if i % 2 else _text(rng, size))
    for i, target in enumerate(rng.sample([p for p in paths if "/" in p], 5)):  # symlinks, relative
        link = os.path.join(path, f"links/link-{i}")
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(os.path.relpath(os.path.join(path, target), os.path.dirname(link)), link)
    history = []
    hrng = random.Random(seed * 100_003 + 1)  # its own draws: A and B stay what they were without a history
    for i in range(1, HISTORY + 1):
        edited = hrng.sample([p for p in paths if not p.startswith("assets/")], 3)
        kept = {p: open(os.path.join(path, p), "rb").read() for p in edited}
        for p, data in kept.items():
            with open(os.path.join(path, p), "wb") as f:
                f.write(data + b"# history %d\n" % i)
        history.append(_commit(path, f"H{i}", f"h{i}", f"2025-12-{20 + i}T00:00:00Z"))
        for p, data in kept.items():
            with open(os.path.join(path, p), "wb") as f:
                f.write(data)
    a = _commit(path, "A", "a", "2026-01-01T00:00:00Z")
    out = {}
    for n, count in enumerate(changes):
        if n:
            _git(path, "checkout", "-q", "-B", f"b{count}", a)
            rng = random.Random(seed * 100_003 + count)
        _edit(rng, path, paths, count, "modules/network/added-in-b.nix")
        b = _commit(path, "B", "b" if n == 0 else f"b{count}", "2026-01-02T00:00:00Z")
        out[count] = Repo(path, a, b, history)
    _git(path, "repack", "-adq")
    _git(path, "prune-packed")
    return out


GENERATOR_VERSION = 3  # bump when `generate` writes a different repository for the same arguments


def cached(cache, name, scratch, **kw):
    """`generate(**kw)` once into `cache/name-<arguments>`, reused by later runs; without a `cache`, into
    `scratch`. Returns (the `generate` result, seconds spent generating: 0 when it came from the cache)."""
    if cache is None:
        start = time.monotonic()
        return generate(scratch, **kw), time.monotonic() - start
    key = "-".join(f"{k}{'_'.join(map(str, v)) if isinstance(v, tuple) else v}" for k, v in sorted(kw.items()))
    path = os.path.join(cache, f"{name}-{key}-g{GENERATOR_VERSION}")
    meta = path + ".json"
    if os.path.exists(meta):
        with open(meta) as f:
            heads = json.load(f)
        return {int(k): Repo(path, *v) for k, v in heads.items()}, 0.0
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(cache, exist_ok=True)
    start = time.monotonic()
    repos = generate(path, **kw)
    took = time.monotonic() - start
    with open(meta + ".tmp", "w") as f:
        json.dump({k: (r.a, r.b, r.history) for k, r in repos.items()}, f)
    os.replace(meta + ".tmp", meta)
    return repos, took


def raw_tree(repo, commit, root, slug, base=None):
    """`root/slug/commit/`: the files of `commit` as a raw host serves them (symlinks as files holding their
    target). Made once (the name is the commit id): from `git archive`, or, given the commit id of a `base` tree
    made before, as hardlinks to it with the files that differ written anew (nothing is written in place)."""
    d = os.path.join(root, slug, commit)
    if os.path.isdir(d):
        return d
    tmp = d + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    base_dir = os.path.join(root, slug, base) if base else None
    if base_dir and os.path.isdir(base_dir):
        subprocess.run(["cp", "-al", base_dir, tmp], check=True)
        out = repo.git("diff", "--no-renames", "--name-status", "-z", base, commit).split(b"\0")
        changes = [(st.decode(), os.fsdecode(p)) for st, p in zip(out[0::2], out[1::2]) if st]
        for status, rel in changes:
            full = os.path.join(tmp, rel)
            if os.path.lexists(full):
                os.remove(full)
            if not status.startswith("D"):
                os.makedirs(os.path.dirname(full), exist_ok=True)
                with open(full, "wb") as f:
                    f.write(repo.git("cat-file", "blob", f"{commit}:{rel}"))
    else:
        os.makedirs(tmp)
        archive = subprocess.Popen(["git", "-C", repo.path, "archive", commit], stdout=subprocess.PIPE)
        subprocess.run(["tar", "-x", "-C", tmp], stdin=archive.stdout, check=True)
        if archive.wait():
            raise RuntimeError(f"git archive {commit} failed")
        for top, dirs, files in os.walk(tmp):
            for name in files + dirs:
                p = os.path.join(top, name)
                if os.path.islink(p):
                    target = os.readlink(p)
                    os.remove(p)
                    with open(p, "w") as f:
                        f.write(target)
    os.rename(tmp, d)
    return d


def generate_blob(path, mib, seed=6):
    """A repository with one random blob of `mib` MiB (A = B: the commit that holds it)."""
    rng = random.Random(seed)
    subprocess.run(["git", "init", "-q", "-b", "main", path], check=True)
    with open(os.path.join(path, "big.bin"), "wb") as f:
        for _ in range(mib):
            f.write(rng.randbytes(1 << 20))
    b = _commit(path, "blob", "b", "2026-01-01T00:00:00Z")
    return Repo(path, b, b)


def existing(path, a, b):
    """An existing local repository with commits `a` and `b` (any revisions git understands)."""
    rev = lambda r: subprocess.run(["git", "-C", path, "rev-parse", r + "^{commit}"], check=True,
                                   capture_output=True, text=True).stdout.strip()
    return Repo(os.path.abspath(path), rev(a), rev(b))
