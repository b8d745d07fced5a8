"""The servers a benchmark talks to: one nginx in front of everything, each host behind a proxy port of one `Link`.

- REST API: the GitHub-shaped test server (`Tests/TestSupport/Server/fake_github.py`), reverse-proxied by nginx.
- raw host: nginx serving the files of the scenario's commits as static files at
  `{raw}/{owner}/{repo}/{commit}/{path}` (symlinks as their target text, as raw.githubusercontent.com does), so the
  raw host is as fast as a CDN and not the test server's one Python thread per request. The resume scenario
  proxies the test server's raw host instead: it needs its stall fault.
- git smart HTTP: the real `git http-backend` behind nginx + fcgiwrap (as a git host runs it), serving
  `{git}/{owner}/{repo}.git` with protocol v2, `uploadpack.allowFilter` and `uploadpack.allowAnySHA1InWant`.

With an `Authority` (the default of tools/bench), nginx terminates TLS on all three hosts and offers HTTP/2 by
ALPN, as GitHub does; the link sits in front of nginx, so every handshake pays the simulated round trips. Without
one, plain HTTP/1.1 (`tools/bench --plain-http`, for comparison).

Requests are counted from nginx's access logs, one per host (`$server_protocol $status $bytes_sent $request_length
"$request"`), and so are the HTTP bytes (headers and bodies, without TLS framing and handshakes).
"""
import json
import os
import subprocess
import sys
import time

from . import nginx

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FAKE_GITHUB = os.path.join(ROOT, "Tests/TestSupport/Server/fake_github.py")
HTTP_BACKEND = "/usr/lib/git-core/git-http-backend"
HOSTS = ("api", "raw", "git")


def _port(url):
    return int(url.rsplit(":", 1)[1])


class Servers:
    """Starts the test server, fcgiwrap and nginx for `slug` → `repo` (a `scenario.Repo`) in `work`, and proxies
    nginx's three ports through `link`. `raw_root` is the static raw host's document root (files of the commits
    under `{slug}/{commit}/`); None proxies the test server's raw host (with its faults). `authority` (a
    `tls.Authority`) turns TLS and HTTP/2 on. `truncate_tree_over` is the test server's recursive tree limit."""

    def __init__(self, work, slug, repo, link, raw_root=None, authority=None, truncate_tree_over=None):
        self.work, self.slug, self.authority = work, slug, authority
        self.procs = []
        self.faults = os.path.join(work, "faults.json")
        self.set_faults([])
        bare = self._bare(slug, repo)
        extra = ["--truncate-tree-over", str(truncate_tree_over)] if truncate_tree_over else []
        fake = subprocess.Popen(
            [sys.executable, FAKE_GITHUB, "--repo", f"{slug}={bare}", "--faults", self.faults,
             "--rate-limit", "100000000", *extra],
            stdout=subprocess.PIPE, stderr=open(os.path.join(work, "fake-github.stderr"), "w"), text=True,
            start_new_session=True)
        self.procs.append(fake)
        ready = json.loads(fake.stdout.readline())
        self.logs = {h: os.path.join(work, "nginx", f"{h}.access.log") for h in HOSTS}
        ports = self._start_nginx(_port(ready["api"]), _port(ready["raw"]), raw_root)
        scheme = "https" if authority else "http"
        self.api, self.raw, self.git = (f"{scheme}://127.0.0.1:{link.proxy(ports[h])}" for h in HOSTS)

    @property
    def cacert(self):
        """The CA file a client must trust, or None on plain HTTP."""
        return self.authority.ca if self.authority else None

    def clone_url(self):
        return f"{self.git}/{self.slug}.git"

    def raw_url(self, commit, path):
        from urllib.parse import quote
        return f"{self.raw}/{self.slug}/{commit}/{quote(path)}"

    def set_faults(self, rules):
        """Replace the test server's fault rules (written to a temp file, renamed over the watched one)."""
        tmp = self.faults + ".tmp"
        with open(tmp, "w") as f:
            json.dump(rules, f)
        old = os.stat(self.faults).st_mtime if os.path.exists(self.faults) else 0
        os.utime(tmp, (time.time(), max(time.time(), int(old) + 1)))
        os.replace(tmp, self.faults)

    def request_mark(self):
        """A position in the request logs; `requests_since(mark)` counts what came after it."""
        return {h: _size(p) for h, p in self.logs.items()}

    def requests_since(self, mark):
        """Since `mark`: requests (total, `by_host` api / raw / git), the HTTP versions used (`http`: {version:
        count}), and the HTTP bytes as nginx counts them, headers included, TLS not (`http_down`: $bytes_sent,
        `http_up`: $request_length)."""
        time.sleep(0.05)  # nginx logs a request after its last byte is sent
        by_host, protocols, down, up = {}, {}, 0, 0
        for h, p in self.logs.items():
            lines = _tail(p, mark[h])
            by_host[h] = len(lines)
            for line in lines:
                proto, _, sent, length = line.split(" ", 4)[:4]
                protocols[proto] = protocols.get(proto, 0) + 1
                down, up = down + int(sent), up + int(length)
        return dict(requests=sum(by_host.values()), by_host=by_host, http=protocols, http_down=down, http_up=up)

    def _bare(self, slug, repo):
        """A bare copy of the repository under `projects/` (GIT_PROJECT_ROOT), which both servers serve."""
        bare = os.path.join(self.work, "projects", slug + ".git")
        os.makedirs(os.path.dirname(bare), exist_ok=True)
        subprocess.run(["git", "clone", "-q", "--bare", repo.path, bare], check=True)
        # HEAD is B (what `git clone --depth 1` gets); tag bench-a is A (the shallow clone a fetch starts from);
        # bench-h1, ... the history before A.
        for args in (("config", "uploadpack.allowFilter", "true"), ("config", "uploadpack.allowAnySHA1InWant", "true"),
                     ("update-ref", "refs/heads/bench-b", repo.b), ("symbolic-ref", "HEAD", "refs/heads/bench-b"),
                     ("update-ref", "refs/tags/bench-a", repo.a),
                     *(("update-ref", f"refs/tags/bench-h{i}", h) for i, h in enumerate(repo.history, 1))):
            subprocess.run(["git", "-C", bare, *args], check=True)
        return bare

    def _listen(self, port):
        if not self.authority:
            return f"listen 127.0.0.1:{port};"
        a = self.authority
        return (f"listen 127.0.0.1:{port} ssl http2;\n        ssl_certificate {a.cert};\n"
                f"        ssl_certificate_key {a.key};")

    def _start_nginx(self, fake_api, fake_raw, raw_root):
        """nginx on three ports: the API (proxy to the test server), the raw host (static, or proxy to the test
        server) and git smart HTTP (fastcgi to git http-backend). Returns {host: port}."""
        d = os.path.join(self.work, "nginx")
        projects = os.path.join(self.work, "projects")
        os.makedirs(d, exist_ok=True)
        sock = os.path.join(d, "fcgiwrap.sock")
        self.procs.append(subprocess.Popen(["fcgiwrap", "-c", "4", "-s", f"unix:{sock}"], stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL, start_new_session=True))
        ports = {h: nginx.free_port() for h in HOSTS}
        proxy = """proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_buffering off;
            proxy_read_timeout 900s;"""
        raw = f"root {raw_root};" if raw_root else f"location / {{ proxy_pass http://fake_raw; {proxy} }}"
        http = f"""    log_format bench '$server_protocol $status $bytes_sent $request_length "$request"';
    client_max_body_size 0;
    default_type "text/plain; charset=utf-8";
    upstream fake_api {{ server 127.0.0.1:{fake_api}; keepalive 16; }}
    upstream fake_raw {{ server 127.0.0.1:{fake_raw}; keepalive 16; }}
    server {{
        {self._listen(ports["api"])}
        access_log {self.logs["api"]} bench;
        location / {{ proxy_pass http://fake_api; {proxy} }}
    }}
    server {{
        {self._listen(ports["raw"])}
        access_log {self.logs["raw"]} bench;
        {raw}
    }}
    server {{
        {self._listen(ports["git"])}
        access_log {self.logs["git"]} bench;
        location / {{
            fastcgi_pass unix:{sock};
            fastcgi_param REQUEST_METHOD $request_method;
            fastcgi_param QUERY_STRING $query_string;
            fastcgi_param CONTENT_TYPE $content_type;
            fastcgi_param CONTENT_LENGTH $content_length;
            fastcgi_param SERVER_PROTOCOL $server_protocol;
            fastcgi_param REMOTE_ADDR $remote_addr;
            fastcgi_param SCRIPT_FILENAME {HTTP_BACKEND};
            fastcgi_param GIT_PROJECT_ROOT {projects};
            fastcgi_param GIT_HTTP_EXPORT_ALL 1;
            fastcgi_param GIT_PROTOCOL $http_git_protocol;
            fastcgi_param PATH_INFO $uri;
            fastcgi_buffering off;
            fastcgi_read_timeout 900s;
        }}
    }}"""
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.02)
        self.procs.append(nginx.start(d, nginx.conf(d, http), ports.values()))
        return ports

    def stop(self):
        """Stop each server's process group (fcgiwrap's preforked children, nginx's worker, git cat-file)."""
        nginx.stop(*self.procs)


def _size(path):
    try:
        return os.path.getsize(path)
    except FileNotFoundError:
        return 0


def _tail(path, offset):
    """The complete lines of `path` after byte `offset`."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace").splitlines()
    except FileNotFoundError:
        return []
