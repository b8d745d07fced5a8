"""The fleet scenario (issue 14): N hosts behind one shared uplink, smart-sync through an HTTP cache against git.

    origin nginx ──(the Link: shared rate cap + RTT)── cache nginx (proxy_cache, proxy_cache_lock) ── N smart-sync hosts
         │                                                                                              (LAN: no shaping)
         └─────────(the same Link)────────────────────────────────────────────────────────────── N git hosts

The origin serves the mirror directory `smart-sync publish --sign-key` wrote (at /mirror/, with docs/MIRROR.md's
Cache-Control headers) and the repository over git smart HTTP (`git http-backend` behind fcgiwrap, at /git/); both
over plain HTTP/1.1. The cache is the configuration of docs/MIRROR.md "Behind a cache" (the fleet test's). Each
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
import signal
import statistics
import subprocess
import time

from . import measure, verify

SLUG = "bench/conf"


class Origin:
    """The origin nginx (mirror directory + git http-backend) behind `link`, and the cache nginx in front of the
    link. `start_cache()` starts a fresh (empty) cache; `stop()` stops everything."""

    def __init__(self, work, repo, binary, link, hosts, env, refs_cache=0):
        self.work, self.repo, self.binary, self.link, self.env = work, repo, binary, link, env
        # docs/MIRROR.md "Behind a cache": refs and refs.sig passed through (0), or micro-cached for that many seconds.
        # The origin sends refs with `no-cache`, which nginx obeys unless told to ignore it.
        self.refs_cache = (f"proxy_cache mirror; proxy_cache_key $uri; proxy_cache_valid 200 {refs_cache}s; "
                           "proxy_cache_lock on; proxy_ignore_headers Cache-Control Expires;") if refs_cache > 0 \
            else "proxy_cache off;"
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

    def _nginx(self, name, body):
        d = os.path.join(self.work, name)
        os.makedirs(os.path.join(d, "tmp"), exist_ok=True)
        user = "user root root;" if os.geteuid() == 0 else ""
        with open(os.path.join(d, "nginx.conf"), "w") as f:
            f.write(f"""{user}
worker_processes 2;
error_log {d}/error.log;
pid {d}/nginx.pid;
events {{ worker_connections 4096; }}
http {{
    log_format fleet '$request_uri $status $body_bytes_sent $upstream_cache_status';
    access_log {d}/access.log fleet;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    keepalive_requests 1000000;
    default_type application/octet-stream;
{body}
}}
""")
        p = subprocess.Popen(["nginx", "-p", d, "-c", os.path.join(d, "nginx.conf"), "-g", "daemon off;"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        return d, p

    def _start_origin(self, hosts):
        sock = os.path.join(self.work, "fcgiwrap.sock")
        # One git http-backend per git host at once: the origin's CPU is not what is measured, the uplink is.
        self.procs.append(subprocess.Popen(["fcgiwrap", "-c", str(max(4, hosts)), "-s", f"unix:{sock}"],
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        port = _free_port()
        d, p = self._nginx("origin", f"""    server {{
        listen 127.0.0.1:{port};
        root {os.path.dirname(self.mirror)};
        location /mirror/ {{ add_header Cache-Control "public, max-age=31536000, immutable"; }}
        location ~ ^/mirror/refs(\\.sig)?$ {{ add_header Cache-Control "no-cache"; }}
        location /git/ {{
            fastcgi_pass unix:{sock};
            fastcgi_param REQUEST_METHOD $request_method;
            fastcgi_param QUERY_STRING $query_string;
            fastcgi_param CONTENT_TYPE $content_type;
            fastcgi_param CONTENT_LENGTH $content_length;
            fastcgi_param SCRIPT_FILENAME /usr/lib/git-core/git-http-backend;
            fastcgi_param GIT_PROJECT_ROOT {self.projects};
            fastcgi_param GIT_HTTP_EXPORT_ALL 1;
            fastcgi_param GIT_PROTOCOL $http_git_protocol;
            fastcgi_split_path_info ^(/git)(/.*)$;
            fastcgi_param PATH_INFO $fastcgi_path_info;
            fastcgi_buffering off;
            fastcgi_read_timeout 900s;
        }}
    }}""")
        self.procs.append(p)
        self.origin_log = os.path.join(d, "access.log")
        _wait_port(port, d)
        return port

    def start_cache(self):
        """A fresh cache (empty storage, new port) in front of the link; returns the mirror URL through it."""
        self.stop_cache()
        cache_dir = os.path.join(self.work, f"cache-store-{time.monotonic_ns()}")
        port = _free_port()
        up, refs_cache = f"127.0.0.1:{self.origin_port}", self.refs_cache
        d, self.cache_proc = self._nginx("cache", f"""    proxy_cache_path {cache_dir} levels=1:2 keys_zone=mirror:10m max_size=10g inactive=365d use_temp_path=off;
    server {{
        listen 127.0.0.1:{port};
        location /mirror/ {{
            proxy_pass http://{up}/mirror/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_cache mirror;
            proxy_cache_key $uri;
            proxy_cache_valid 200 365d;
            proxy_cache_lock on;
            proxy_cache_lock_timeout 10m;
            proxy_cache_lock_age 10m;
            proxy_cache_use_stale error timeout updating;
        }}
        location = /mirror/refs {{ proxy_pass http://{up}/mirror/refs; {refs_cache} }}
        location = /mirror/refs.sig {{ proxy_pass http://{up}/mirror/refs.sig; {refs_cache} }}
    }}""")
        _wait_port(port, d)
        return f"http://127.0.0.1:{port}/mirror"

    def stop_cache(self):
        if self.cache_proc:
            _stop(self.cache_proc)
            self.cache_proc = None

    def stop(self):
        self.stop_cache()
        for p in reversed(self.procs):
            _stop(p)


def _stop(p):
    try:
        os.killpg(p.pid, signal.SIGTERM)
        p.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
    except ProcessLookupError:
        pass


def _free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port, d):
    import socket
    for _ in range(250):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise RuntimeError(f"nginx did not start: {open(os.path.join(d, 'error.log')).read()}")


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
