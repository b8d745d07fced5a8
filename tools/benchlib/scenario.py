"""Benchmark repositories: generated (deterministic) or an existing local repository, each with commits A and B.

A generated repository looks like a real configuration repository: nested directories of `.nix` modules,
executable `.sh` scripts, `.md` docs, `.json` data, a few symlinks and unicode names, sizes from a long-tailed
distribution (median ~2 KB) plus a few 100 KB - 1 MB files. Commit B edits a few lines in `changes` files
(one of them added, one deleted), so a delta-aware transfer has something to gain.
"""
import math
import os
import random
import subprocess

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
    """A git repository with the two benchmark commits `a` and `b` (full SHAs)."""

    def __init__(self, path, a, b):
        self.path, self.a, self.b = path, a, b

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


def _size(rng):
    """Long-tailed: lognormal around 2 KB, cut to 40 B - 60 KB."""
    return int(min(60_000, max(40, rng.lognormvariate(math.log(2048), 1.1))))


def _commit(path, message, tag, date):
    env = dict(os.environ, **GIT_ENV, GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    run = lambda *a: subprocess.run(["git", "-C", path, "-c", "commit.gpgsign=false", *a], check=True, env=env,
                                    capture_output=True)
    run("add", "-A")
    run("commit", "-q", "-m", message)
    run("tag", tag)
    return subprocess.run(["git", "-C", path, "rev-parse", "HEAD"], check=True, capture_output=True,
                          text=True).stdout.strip()


def generate(path, files=1000, changes=12, seed=6):
    """Write a configuration-like repository of about `files` files with commit A, then B changing `changes`."""
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
            f.write(_text(rng, _size(rng), script=p.endswith(".sh")))
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
    a = _commit(path, "A", "a", "2026-01-01T00:00:00Z")
    edited = rng.sample([p for p in paths if not p.startswith("assets/")], changes)
    for p in edited[:-2]:  # small edits: one line changed, one appended
        full = os.path.join(path, p)
        lines = open(full, "rb").read().split(b"\n")
        lines[rng.randrange(len(lines))] = b"  services.bench.edited = %d;" % rng.randint(0, 10**6)
        lines.append(b"# edited in B")
        with open(full, "wb") as f:
            f.write(b"\n".join(lines))
    os.remove(os.path.join(path, edited[-2]))
    with open(os.path.join(path, "modules/network/added-in-b.nix"), "wb") as f:
        f.write(_text(rng, 1500))
    b = _commit(path, "B", "b", "2026-01-02T00:00:00Z")
    return Repo(path, a, b)


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
