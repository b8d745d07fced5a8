"""The fleet scenario (issue 14): N hosts behind one shared uplink, smart-sync through an HTTP cache against git.

    origin nginx ──(the Link: shared rate cap + RTT)── cache nginx (proxy_cache, proxy_cache_lock) ── N smart-sync hosts
         │                                                                                              (LAN: no shaping)
         └─────────(the same Link)────────────────────────────────────────────────────────────── N git hosts

The origin serves the mirror directory `smart-sync publish --sign-key` wrote (at /mirror/, with docs/MIRROR.md's
Cache-Control headers) and the repository over git smart HTTP (`git http-backend` behind fcgiwrap, at /git/); both
over plain HTTP/1.1. The cache is the configuration of docs/MIRROR.md "Behind a cache", read from the doc (as the
fleet test reads it: `recipe`; MirrorCacheRecipeTests compares what both run with the doc). Each
smart-sync host has its own store, state and target and runs `sync --mirror CACHE --trusted-key ALLOWED_SIGNERS`
(its GitHub URLs point at a closed port: it must not need them); each git host runs `git clone --depth 1` (cold) or
`git fetch --depth 1` + checkout in a shallow clone of A (update) straight against the origin through the same link.

Kinds: cold (empty hosts, an empty cache, to commit B) and update (hosts at A, the cache holding what A needed, to
B). For each N, `solo` is one smart-sync host through an empty (cold) or A-warmed (update) cache: "one host's need".
Measured per run: wall time from starting all N processes until the last exits, origin egress (bytes down the
link, HTTP headers included), each host's peak RSS (GNU time) and exit status; every smart-sync target is compared
with the tree of its commit.
"""
import os
import shutil
import statistics
import subprocess
import time

from . import measure, nginx, verify

SLUG = "bench/conf"
MIRROR_MD = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                         "docs", "MIRROR.md")
LOG_FORMAT = "$request_uri $status $body_bytes_sent $upstream_cache_status"


def recipe(name, doc=MIRROR_MD):
    """The fenced block after `<!-- recipe: NAME -->` in docs/MIRROR.md, its common indentation removed."""
    lines = open(doc, encoding="utf-8").read().split("\n")
    marker = f"<!-- recipe: {name} -->"
    try:
        at = next(i for i, line in enumerate(lines) if line.strip() == marker)
    except StopIteration:
        raise RuntimeError(f"{doc} has no {marker}") from None
    if at + 1 >= len(lines) or lines[at + 1].strip() != "```nginx":
        raise RuntimeError(f"{doc}: no ```nginx block right after {marker}")
    end = next((i for i in range(at + 2, len(lines)) if lines[i].strip() == "```"), None)
    if end is None:
        raise RuntimeError(f"{doc}: the block after {marker} is not closed")
    body = lines[at + 2:end]
    indent = min((len(line) - len(line.lstrip()) for line in body if line.strip()), default=0)
    return "\n".join(line[indent:] for line in body)


def _replace(text, old, new, name):
    if old not in text:
        raise RuntimeError(f"docs/MIRROR.md's {name} block has no {old!r}: the fleet test (FleetNginx.swift) and "
                           "this benchmark replace it; update all three together")
    return text.replace(old, new)


def origin_conf(d, port, www, sock, projects):
    """The origin nginx's configuration: docs/MIRROR.md's origin block (Cache-Control headers) on the directory
    `www` (the mirror at /mirror/), and git http-backend behind fcgiwrap (`sock`) at /git/."""
    return nginx.conf(d, f"""    log_format fleet '{LOG_FORMAT}';
    access_log {d}/access.log fleet;
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port};
        root {www};
{_indent(recipe("nginx-origin"), 8)}
        location /git/ {{
            fastcgi_pass unix:{sock};
            fastcgi_param REQUEST_METHOD $request_method;
            fastcgi_param QUERY_STRING $query_string;
            fastcgi_param CONTENT_TYPE $content_type;
            fastcgi_param CONTENT_LENGTH $content_length;
            fastcgi_param SCRIPT_FILENAME /usr/lib/git-core/git-http-backend;
            fastcgi_param GIT_PROJECT_ROOT {projects};
            fastcgi_param GIT_HTTP_EXPORT_ALL 1;
            fastcgi_param GIT_PROTOCOL $http_git_protocol;
            fastcgi_split_path_info ^(/git)(/.*)$;
            fastcgi_param PATH_INFO $fastcgi_path_info;
            fastcgi_buffering off;
            fastcgi_read_timeout 900s;
        }}
    }}""", workers=2)


def cache_recipe(port, upstream, cache_dir, refs_cache=0):
    """docs/MIRROR.md's cache block, listening on 127.0.0.1:`port`, proxying `upstream` (host:port), storing in
    `cache_dir`; refs and refs.sig passed through (`refs_cache` 0) or micro-cached for `refs_cache` seconds (the
    doc's nginx-cache-refs block in place of the two pass-through locations)."""
    text = recipe("nginx-cache")
    if refs_cache > 0:
        lines = text.split("\n")
        passing = [i for i, line in enumerate(lines) if line.lstrip().startswith("location = /mirror/refs")]
        if len(passing) != 2 or passing[1] != passing[0] + 1:
            raise RuntimeError("docs/MIRROR.md's nginx-cache block: expected two adjacent `location = /mirror/refs…` "
                               f"lines, found {len(passing)}")
        refs = _replace(recipe("nginx-cache-refs"), "proxy_cache_valid 200 10s;",
                        f"proxy_cache_valid 200 {refs_cache}s;", "nginx-cache-refs")
        lead = lines[passing[0]][:len(lines[passing[0]]) - len(lines[passing[0]].lstrip())]
        text = "\n".join(lines[:passing[0]] + [_indent(refs, len(lead))] + lines[passing[1] + 1:])
    text = _replace(text, "listen 80;", f"listen 127.0.0.1:{port};", "nginx-cache")
    text = _replace(text, "http://origin.example/", f"http://{upstream}/", "nginx-cache")
    return _replace(text, "/var/cache/nginx/mirror", cache_dir, "nginx-cache")


def cache_conf(d, port, upstream, cache_dir, refs_cache=0):
    """The cache nginx's configuration: `cache_recipe` and an access log."""
    return nginx.conf(d, f"""    log_format fleet '{LOG_FORMAT}';
    access_log {d}/access.log fleet;
    default_type application/octet-stream;
{_indent(cache_recipe(port, upstream, cache_dir, refs_cache), 4)}""", workers=2)


def _indent(text, n):
    return "\n".join((" " * n + line) if line.strip() else "" for line in text.split("\n"))


class Origin:
    """The origin nginx (mirror directory + git http-backend) behind `link`, and the cache nginx in front of the
    link. `start_cache()` starts a fresh (empty) cache; `stop()` stops everything."""

    def __init__(self, work, repo, binary, link, hosts, env, refs_cache=0):
        self.work, self.repo, self.binary, self.link, self.env = work, repo, binary, link, env
        # docs/MIRROR.md "Behind a cache": refs and refs.sig passed through (0), or micro-cached for that many seconds.
        self.refs_cache = refs_cache
        self.procs, self.cache_proc = [], None
        os.makedirs(work, exist_ok=True)
        self.mirror = os.path.join(work, "www", "mirror")  # served at /mirror/
        self.key = os.path.join(work, "signing-key")
        self.allowed = os.path.join(work, "allowed_signers")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bench", "-f", self.key], check=True)
        pub = " ".join(open(self.key + ".pub").read().split()[:2])
        with open(self.allowed, "w") as f:
            f.write(f'bench@example.invalid namespaces="smart-sync" {pub}\n')
        self.projects = os.path.join(work, "projects")
        self._bare()
        # A and B both published (refs: main → B, a → A); the pointer names B.
        subprocess.run([binary, "publish", "--source", repo.path, "--name", SLUG, "--ref", "main", "--ref", "a",
                        "--to", self.mirror, "--sign-key", self.key], check=True, env=env, stdout=subprocess.DEVNULL)
        port = self._start_origin(hosts)
        self.origin_port = link.proxy(port)
        self.git_url = f"http://127.0.0.1:{self.origin_port}/git/{SLUG}.git"

    def _bare(self):
        bare = os.path.join(self.projects, SLUG + ".git")
        os.makedirs(os.path.dirname(bare), exist_ok=True)
        subprocess.run(["git", "clone", "-q", "--bare", self.repo.path, bare], check=True)
        for args in (("config", "uploadpack.allowFilter", "true"), ("update-ref", "refs/heads/bench-b", self.repo.b),
                     ("symbolic-ref", "HEAD", "refs/heads/bench-b"), ("update-ref", "refs/tags/bench-a", self.repo.a)):
            subprocess.run(["git", "-C", bare, *args], check=True)

    def _start_origin(self, hosts):
        sock = os.path.join(self.work, "fcgiwrap.sock")
        # One git http-backend per git host at once: the origin's CPU is not what is measured, the uplink is.
        self.procs.append(subprocess.Popen(["fcgiwrap", "-c", str(max(4, hosts)), "-s", f"unix:{sock}"],
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        port = nginx.free_port()
        d = os.path.join(self.work, "origin")
        self.procs.append(nginx.start(d, origin_conf(d, port, os.path.dirname(self.mirror), sock, self.projects),
                                      [port]))
        self.origin_log = os.path.join(d, "access.log")
        return port

    def start_cache(self):
        """A fresh cache (empty storage, new port) in front of the link; returns the mirror URL through it."""
        self.stop_cache()
        cache_dir = os.path.join(self.work, f"cache-store-{time.monotonic_ns()}")
        port = nginx.free_port()
        d = os.path.join(self.work, "cache")
        self.cache_proc = nginx.start(
            d, cache_conf(d, port, f"127.0.0.1:{self.origin_port}", cache_dir, self.refs_cache), [port])
        return f"http://127.0.0.1:{port}/mirror"

    def stop_cache(self):
        if self.cache_proc:
            nginx.stop(self.cache_proc)
            self.cache_proc = None

    def stop(self):
        self.stop_cache()
        nginx.stop(*self.procs)


CLOSED = "http://127.0.0.1:9"  # the GitHub origin of the smart-sync hosts: nothing listens there


def smart_argv(binary, host_dir, mirror, allowed, ref):
    return [binary, "sync", SLUG, "--ref", ref, "--mirror", mirror, "--trusted-key", allowed,
            "--api-url", CLOSED, "--raw-url", CLOSED, "--git-url", CLOSED,
            "--store", os.path.join(host_dir, "store"), "--state-dir", os.path.join(host_dir, "state"),
            "--target", os.path.join(host_dir, "target"), "--json"]


def git_clone_argv(url, target, ref=None):
    return ["git", "-c", "protocol.version=2", "clone", "-q", "--depth", "1", *(["--branch", ref] if ref else []),
            url, target]


def git_fetch_argv(target):
    return ["sh", "-c", f"git -c protocol.version=2 -C {target} fetch -q --depth 1 origin refs/heads/bench-b && "
            f"git -C {target} checkout -q --detach FETCH_HEAD"]


def run_fleet(argvs, env, link, logs):
    """Start every argv at once (each under GNU time), wait for all; returns wall, egress and per-host results."""
    link.reset_counters()
    link.set_shape(True)
    start = time.monotonic()
    procs = []
    for argv, log in zip(argvs, logs):
        out = open(log, "ab")
        prefix = [measure.GNU_TIME, "-f", "%M", "-o", log + ".rss", "--"] if measure.GNU_TIME else []
        procs.append((subprocess.Popen(prefix + argv, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out), out))
    codes = []
    for p, out in procs:
        codes.append(p.wait())
        out.close()
    wall = time.monotonic() - start
    counters = link.counters()
    link.set_shape(False)
    rss = []
    for log in logs:
        try:
            rss.append(int(open(log + ".rss").read().split()[-1]))
        except (OSError, ValueError, IndexError):
            rss.append(0)
    return dict(wall=wall, egress=counters["bytes_down"], up=counters["bytes_up"],
                connections=counters["connections"], exits=codes, ok=all(c == 0 for c in codes), rss_kib=rss)


def run_cell(bench, cell, repo, link):
    """Fill `cell` (kind fleet) with runs of every N in --fleet-hosts, cold and update, smart-sync and git."""
    opts, work = bench.opts, os.path.join(bench.work, "fleet")
    binary = bench.smart[0].binary
    chosen = opts.fleet_tools.split(",")
    if "--sign-key" not in subprocess.run([binary, "publish", "--help"], capture_output=True, text=True).stdout:
        cell["skipped"] = "this smart-sync has no `publish` (issue 14): nothing to measure"
        print(f"fleet: skipped: {cell['skipped']}", flush=True)
        return
    ns = [int(n) for n in str(opts.fleet_hosts).split(",")]
    os.makedirs(work, exist_ok=True)
    origin = Origin(os.path.join(work, "origin"), repo, binary, link, max(ns), bench.env,
                    refs_cache=getattr(opts, "fleet_refs_cache", 0))
    cell["refs_cache"] = getattr(opts, "fleet_refs_cache", 0)
    cell.update(hosts=ns, repo_bytes=repo.size(repo.b), change_bytes=sum(
        len(repo.git("cat-file", "blob", f"{repo.b}:{p}")) for p in repo.changed(repo.a, repo.b)),
        files_total=len(repo.files(repo.b)), runs=[])
    try:
        for rep in range(opts.reps):
            for kind in ("cold", "update"):
                for n in [1] + ns:
                    tools = [t for t in (("smart-sync",) if n == 1 else ("smart-sync", "git")) if t in chosen]
                    for tool in (tools if rep % 2 == 0 else tools[::-1]):
                        r = _one(origin, repo, bench.env, link, work, kind, n, tool, rep)
                        cell["runs"].append(r)
                        print(f"  fleet {kind} N={n} {tool} rep {rep}: {r['wall']:.2f} s, origin egress "
                              f"{r['egress']:,} B, RSS median {statistics.median(r['rss_kib']) / 1024:.1f} MiB"
                              + ("" if r["ok"] else f", FAILED: {r.get('error', '')[:300]}"), flush=True)
    finally:
        origin.stop()
        shutil.rmtree(work, ignore_errors=True)


def _one(origin, repo, env, link, work, kind, n, tool, rep):
    d = os.path.join(work, f"{kind}-{n}-{tool}-{rep}")
    os.makedirs(d)
    hosts = [os.path.join(d, f"host-{i}") for i in range(n)]
    for h in hosts:
        os.makedirs(h)
    logs = [os.path.join(h, "output.log") for h in hosts]
    def untimed(argvs):  # the hosts' preparation, all at once (unshaped, unmeasured, must succeed)
        link.set_shape(False)
        procs = []
        for argv, log in zip(argvs, logs):
            out = open(log, "ab")
            procs.append((subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out), out, argv))
        for p, out, argv in procs:
            code = p.wait()
            out.close()
            if code:
                raise subprocess.CalledProcessError(code, argv)
    try:
        if tool == "smart-sync":
            mirror = origin.start_cache()
            if kind == "update":  # every host at A, through the cache (which then holds what A needed)
                untimed([smart_argv(origin.binary, h, mirror, origin.allowed, repo.a) for h in hosts])
            argvs = [smart_argv(origin.binary, h, mirror, origin.allowed, "main") for h in hosts]
        else:
            targets = [os.path.join(h, "target") for h in hosts]
            if kind == "update":
                untimed([git_clone_argv(origin.git_url, t, "bench-a") for t in targets])
                argvs = [git_fetch_argv(t) for t in targets]
            else:
                argvs = [git_clone_argv(origin.git_url, t) for t in targets]
        r = run_fleet(argvs, env, link, logs)
    except subprocess.CalledProcessError as e:
        r = dict(ok=False, wall=0.0, egress=0, rss_kib=[0], exits=[], error=f"preparation failed: {e}")
    r.update(kind=kind, n=n, tool=tool, rep=rep)
    if r["ok"] and tool == "smart-sync":
        for h in hosts:
            diff = verify.compare(repo, repo.b, os.path.join(h, "target"))
            if diff:
                r.update(ok=False, error=f"{h}: target differs from the tree of B: {diff}")
                break
    if not r["ok"]:
        bad = next((log for log, c in zip(logs, r["exits"]) if c != 0), logs[0])
        r.setdefault("error", open(bad, errors="replace").read()[-1500:])
    shutil.rmtree(d, ignore_errors=True)
    return r


def summarize(cell):
    """Medians per (kind, N, tool), and the ratios the issue asks for: origin egress ÷ one host's need (the solo
    smart-sync run of that kind), ÷ the repository's size, and git's wall time ÷ smart-sync's."""
    if cell.get("skipped"):
        return
    rows = {}
    for r in cell["runs"]:
        rows.setdefault((r["kind"], r["n"], r["tool"]), []).append(r)
    out = []
    for (kind, n, tool), runs in sorted(rows.items(), key=lambda kv: (kv[0][0] != "cold", kv[0][1], kv[0][2])):
        ok = [r for r in runs if r["ok"]]
        if not ok:
            out.append(dict(kind=kind, n=n, tool=tool, failed=len(runs)))
            continue
        rss = [k for r in ok for k in r["rss_kib"]]
        out.append(dict(kind=kind, n=n, tool=tool, runs=len(ok), failed=len(runs) - len(ok),
                        wall=statistics.median(r["wall"] for r in ok), egress=statistics.median(r["egress"] for r in ok),
                        rss_median_mib=statistics.median(rss) / 1024, rss_max_mib=max(rss) / 1024))
    by = {(s["kind"], s["n"], s["tool"]): s for s in out}
    for s in out:
        if "wall" not in s:
            continue
        solo = by.get((s["kind"], 1, "smart-sync"))
        if solo and "egress" in solo and s["tool"] == "smart-sync":
            s["egress_over_one_host"] = s["egress"] / max(1, solo["egress"])
        size = cell["repo_bytes"] if s["kind"] == "cold" else cell["change_bytes"]
        s["egress_over_size"] = s["egress"] / max(1, size)
        git = by.get((s["kind"], s["n"], "git"))
        if s["tool"] == "smart-sync" and git and "wall" in git:
            s["git_over_smart"] = git["wall"] / s["wall"]
    cell["summary"] = out
    cell["targets"] = []
    for s in out:
        if s["tool"] == "smart-sync" and s["n"] > 1 and "egress_over_one_host" in s:
            cell["targets"].append((f"{s['kind']}, N = {s['n']}: origin egress ≤ 1.05 × one host's need "
                                    f"({s['egress_over_one_host']:.2f})", s["egress_over_one_host"] <= 1.05))
        if s["tool"] == "smart-sync" and s["n"] == max(cell["hosts"]) and "git_over_smart" in s:
            cell["targets"].append((f"{s['kind']}, N = {s['n']}: the fleet done ≥ 5× sooner than git "
                                    f"({s['git_over_smart']:.1f}×)", s["git_over_smart"] >= 5))


def markdown(cell):
    if cell.get("skipped"):
        return f"### Fleet ({cell['link']})\n\nSkipped: {cell['skipped']}\n"
    mib = lambda b: f"{b / (1 << 20):.2f} MiB"
    lines = [f"### Fleet, {cell['link_label']}",
             "",
             f"{cell['files_total']:,} files, {mib(cell['repo_bytes'])} of blobs in B; the update changes "
             f"{mib(cell['change_bytes'])} of blobs. Medians of {cell['reps']} repetitions. Egress: bytes the origin "
             "sent over the uplink (HTTP headers included; plain HTTP/1.1 throughout). One host's need: the same run with "
             "one smart-sync host.",
             "",
             "| kind | hosts | tool | last host done | origin egress | ÷ one host's need | ÷ size | git ÷ smart-sync "
             "(time) | peak RSS per host (median / max) | failed |",
             "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for s in cell.get("summary", []):
        if "wall" not in s:
            lines.append(f"| {s['kind']} | {s['n']} | {s['tool']} | — | — | — | — | — | — | {s['failed']} |")
            continue
        ratio = lambda k, f="{:.2f}": f.format(s[k]) if k in s else "—"
        lines.append(f"| {s['kind']} | {s['n']} | {s['tool']} | {s['wall']:.2f} s | {mib(s['egress'])} | "
                     f"{ratio('egress_over_one_host')} | {ratio('egress_over_size')} | {ratio('git_over_smart', '{:.1f}×')} | "
                     f"{s['rss_median_mib']:.1f} / {s['rss_max_mib']:.1f} MiB | {s['failed']} |")
    fmt = lambda l: " / ".join(f"{x:.2f}" for x in l)
    lines += ["", f"Load average (1 / 5 / 15 min) {fmt(cell['load_start'])} at the start, {fmt(cell['load_end'])} "
              "at the end.", ""]
    lines += [f"- {'met' if ok else '**not met**'}: {text}" for text, ok in cell.get("targets", [])]
    return "\n".join(lines) + "\n"


def failures(cell):
    """What makes a smoke run fail: a failed run."""
    if cell.get("skipped"):
        return []
    return [f"fleet {r['kind']} N={r['n']} {r['tool']}: {r.get('error', 'failed')[:500]}"
            for r in cell["runs"] if not r["ok"]]
