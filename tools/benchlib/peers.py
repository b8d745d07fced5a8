"""The tools compared: smart-sync (raw and pack transports) and its peers, for the cold / update / no-op kinds.

Each tool prepares its run untimed (a first sync of A, a shallow clone of A) and gives the command measured.
`rtts` is the number of round trips the physical limit assumes for the tool: the fewest its protocol needs over
plain HTTP; `handshakes` is how many TLS handshakes (one round trip each with TLS 1.3) it must wait for in turn.
"""
import os
import shutil
import subprocess

SLUG = "bench/conf"
# aria2c and curl --parallel: connect, first request; later requests on the 16 connections overlap the transfer.
PARALLEL_RTTS = 2


class Run:
    """One measured run's context: a fresh directory, the scenario kind and what a peer must download."""

    def __init__(self, directory, kind, repo, servers, env, files, history=0):
        self.dir, self.kind, self.repo, self.servers, self.env = directory, kind, repo, servers, env
        self.history = history  # how many of the repository's history commits an update syncs through before A
        self.files = files  # paths a file-by-file peer downloads (all of B when cold, the changed ones otherwise)
        self.target = os.path.join(directory, "target")
        self.log = os.path.join(directory, "output.log")


class SmartSync:
    """`smart-sync sync --ref bench-b` (a branch: resolved each run, as a user's `--ref main` is); for an update
    the state is A's (`--ref bench-h1`, `bench-h2`, `bench-h3`, then `bench-a` synced untimed first, so that the
    target has its 3 generations, as one that has been syncing for a while has), for a no-op B's. `label` names a second binary
    (`--bin LABEL=PATH`): its rows are `smart-sync-<transport>@<label>`."""

    kinds = ("cold", "update", "noop")

    def __init__(self, binary, transport, has_flag, label=None):
        self.name = f"smart-sync-{transport}" + (f"@{label}" if label else "")
        self.binary, self.transport, self.has_flag = binary, transport, has_flag

    def argv(self, run, ref):
        s = run.servers
        args = [self.binary, "sync", SLUG, "--ref", ref, "--api-url", s.api, "--raw-url", s.raw,
                "--git-url", s.git, "--store", os.path.join(run.dir, "store"),
                "--state-dir", os.path.join(run.dir, "state"), "--target", run.target, "--json"]
        args += ["--cacert", s.cacert] if s.cacert else []
        return args + (["--transport", self.transport] if self.has_flag else [])

    def prepare(self, run, untimed):
        refs = []
        if run.kind == "update":  # through the history first: the generations of a target that has been syncing
            refs = [f"bench-h{i}" for i in range(1, min(run.history, len(run.repo.history)) + 1)] + ["bench-a"]
            # A target stages by recycling the spare tree, which pruning leaves once it has switched more often than
            # it keeps generations: back and forth between the last two commits until it has (the first sync of an
            # empty target is no switch), and as often again, so that the spare the timed update recycles was
            # filed after the last stage built from the store. Such a build links every store object anew (every
            # inode's ctime moves), so the stat caches of the generations filed before it vouch for nothing and
            # their files are checked against the store one by one: a target's first few recycles, not the steady
            # state of one that has been syncing for a while.
            while run.history and len(refs) - 1 < 2 * KEEP_GENERATIONS + 2:
                refs += refs[-2:]
        elif run.kind == "noop":
            refs = ["bench-b"]
        # Back and forth on purpose: a build with anti-rollback needs leave for the steps back (untimed).
        back = ["--allow-downgrade"] if allows_downgrade(self.binary) else []
        for ref in refs:
            untimed(self.argv(run, ref) + back)

    def command(self, run):
        return self.argv(run, "bench-b")

    def rtts(self, kind, n):
        # API: connect, resolve, tree; raw: connect, blobs (all in flight at once). Pack: connect, ls-refs, one
        # fetch, plus the capabilities on a cold store (cached for a day after). A no-op: connect + one request.
        if kind == "noop":
            return 2
        if self.transport == "raw":
            return 5
        return 4 if kind == "cold" else 3


# smart-sync's default --keep-generations.
KEEP_GENERATIONS = 3


def _git(run, *args, cwd=None):
    trust = ["-c", f"http.sslCAInfo={run.servers.cacert}"] if run.servers.cacert else []
    return ["git", "-c", "protocol.version=2", *trust, *(["-C", cwd] if cwd else []), *args]


class GitClone:
    """`git clone --depth 1` of B (the served repository's HEAD)."""

    name, kinds = "git-clone", ("cold",)

    def prepare(self, run, untimed):
        pass

    def command(self, run):
        return _git(run, "clone", "-q", "--depth", "1", run.servers.clone_url(), run.target)

    def rtts(self, kind, n):
        return 4  # connect, GET info/refs, ls-refs, fetch


class GitFetch:
    """`git fetch --depth 1 origin bench-b` + checkout, in a shallow clone of A (a no-op: in a clone at B)."""

    name, kinds = "git-fetch", ("update", "noop")

    def prepare(self, run, untimed):
        untimed(_git(run, "clone", "-q", "--depth", "1", "--branch", "bench-a", run.servers.clone_url(), run.target))
        if run.kind == "noop":
            untimed(["sh", "-c", self._script(run)])

    def _script(self, run):
        fetch = " ".join(_git(run, "fetch", "-q", "--depth", "1", "origin", "refs/heads/bench-b",
                          cwd=run.target))
        return f"{fetch} && git -C {run.target} checkout -q --detach FETCH_HEAD"

    def command(self, run):
        return ["sh", "-c", self._script(run)]

    def rtts(self, kind, n):
        return 4  # connect, GET info/refs, ls-refs, fetch


class GitStatus:
    """`git status --porcelain` in a checkout of B (a `git clone --depth 1`, its index refreshed by one untimed
    `git status`): git's own no-op, no network. The issue's peer for a no-op sync's local work."""

    name, kinds = "git-status", ("noop",)

    def prepare(self, run, untimed):
        untimed(_git(run, "clone", "-q", "--depth", "1", run.servers.clone_url(), run.target))
        untimed(self.command(run))

    def command(self, run):
        return ["git", "-C", run.target, "status", "--porcelain"]

    def rtts(self, kind, n):
        return 0


class FileFetcher:
    """A peer that downloads a list of raw URLs (cold: all of B; update: the changed files) written untimed into
    `list_name`, one `line` per file."""

    kinds, list_name = ("cold", "update"), None

    def line(self, run, path):
        raise NotImplementedError

    def list_path(self, run):
        return os.path.join(run.dir, self.list_name)

    def prepare(self, run, untimed):
        with open(self.list_path(run), "w") as f:
            f.writelines(self.line(run, p) for p in run.files)

    def rtts(self, kind, n):
        return PARALLEL_RTTS


class Aria2(FileFetcher):
    """`aria2c -j16 -x1` on the raw URLs of the files to download."""

    name, binary, list_name = "aria2c", "aria2c", "aria2.list"

    def line(self, run, path):
        return f"{run.servers.raw_url(run.repo.b, path)}\n  out={path}\n"

    def command(self, run):
        return ["aria2c", "-q", "-j16", "-x1", "--allow-overwrite=true", "--auto-file-renaming=false",
                "--file-allocation=none", "--console-log-level=error", *curl_trust(run, "--ca-certificate="),
                "-d", run.target, "-i", self.list_path(run)]


class CurlParallel(FileFetcher):
    """`curl --parallel --parallel-max 16` on the raw URLs of the files to download."""

    name, binary, list_name = "curl-parallel", "curl", "curl.config"

    def line(self, run, path):
        out = os.path.join(run.target, path).replace("\\", "\\\\").replace('"', '\\"')
        return f'url = "{run.servers.raw_url(run.repo.b, path)}"\noutput = "{out}"\n'

    def command(self, run):
        return ["curl", "-sS", "--fail", "--create-dirs", "--parallel", "--parallel-max", "16",
                *curl_trust(run), "-K", self.list_path(run)]


class CurlSerial(FileFetcher):
    """One `curl` per file in turn, like the original shell script (a new process and connection each)."""

    name, binary, list_name = "curl-serial", "curl", "serial.list"

    def line(self, run, path):
        return f"{run.servers.raw_url(run.repo.b, path)}\t{os.path.join(run.target, path)}\n"

    def command(self, run):
        loop = ('while IFS="$(printf "\\t")" read -r u o; do curl -sSf "$@" --create-dirs -o "$o" "$u" || exit 1; '
                'done < "$0"')
        return ["sh", "-c", loop, self.list_path(run), *curl_trust(run)]

    def rtts(self, kind, n):
        return 2 * n  # connect + request, per file


def handshakes(tool, kind, n):
    """TLS handshakes a tool waits for one after the other: one per host it needs in turn (smart-sync's raw
    transport: the API, then the raw host), one per file for the serial loop, none for git status."""
    if isinstance(tool, GitStatus):
        return 0
    if isinstance(tool, CurlSerial):
        return n
    if isinstance(tool, SmartSync) and tool.transport == "raw" and kind != "noop":
        return 2
    return 1


def curl_trust(run, flag="--cacert"):
    """curl's (or, with `flag`, aria2c's) option to trust the run's test CA; nothing on plain HTTP."""
    ca = run.servers.cacert
    if not ca:
        return []
    return [flag + ca] if flag.endswith("=") else [flag, ca]


def transports(binary, label=None):
    """The smart-sync transports this build offers: `raw` always, `pack` when `sync --help` lists --transport."""
    out = subprocess.run([binary, "sync", "--help"], capture_output=True, text=True).stdout
    has = "--transport" in out
    return [SmartSync(binary, "raw", has, label)] + ([SmartSync(binary, "pack", has, label)] if has else []), has


def allows_downgrade(binary):
    """True when this build refuses non-descendant commits unless `--allow-downgrade` (and so takes the flag)."""
    out = subprocess.run([binary, "sync", "--help"], capture_output=True, text=True).stdout
    return "--allow-downgrade" in out


def available(tool):
    """None when the tool can run here, else why not."""
    binary = getattr(tool, "binary", None)
    if binary and shutil.which(binary) is None:
        return f"{binary} not installed"
    return None
