"""The servers a benchmark talks to, each behind a proxy port of one simulated `Link`.

- REST API: the GitHub-shaped test server (`Tests/TestSupport/Server/fake_github.py`).
- raw host: nginx serving the files of commits A and B as static files at `{raw}/{owner}/{repo}/{commit}/{path}`
  (symlinks as their target text, as raw.githubusercontent.com does), so the raw host is as fast as a CDN and
  not the test server's one Python thread per request. The resume scenario uses the test server's raw host
  instead: it needs its stall fault.
- git smart HTTP: the real `git http-backend` behind nginx + fcgiwrap (as a git host runs it), serving
  `{git}/{owner}/{repo}.git` with protocol v2, `uploadpack.allowFilter` and `uploadpack.allowAnySHA1InWant`.

Requests are counted from the servers' own logs (the test server's JSON lines, nginx's access log).
"""
import json
import os
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FAKE_GITHUB = os.path.join(ROOT, "Tests/TestSupport/Server/fake_github.py")
HTTP_BACKEND = "/usr/lib/git-core/git-http-backend"


def _port(url):
    return int(url.rsplit(":", 1)[1])


def _lines(path):
    try:
        with open(path, "rb") as f:
            return f.read().count(b"\n")
    except FileNotFoundError:
        return 0


class Servers:
    """Starts the test server and nginx for `slug` → `repo` (a `scenario.Repo`) in `work`, and proxies all
    three through `link`. Without `nginx`, the raw host is the test server's (with faults) and there is no git."""

    def __init__(self, work, slug, repo, link, nginx=True):
        self.work, self.slug = work, slug
        self.procs = []
        self.log = os.path.join(work, "fake-github.jsonl")
        self.faults = os.path.join(work, "faults.json")
        self.set_faults([])
        bare = self._bare(slug, repo)
        fake = subprocess.Popen(
            [sys.executable, FAKE_GITHUB, "--repo", f"{slug}={bare}", "--log", self.log, "--faults", self.faults,
             "--rate-limit", "100000000"],
            stdout=subprocess.PIPE, stderr=open(os.path.join(work, "fake-github.stderr"), "w"), text=True,
            start_new_session=True)
        self.procs.append(fake)
        ready = json.loads(fake.stdout.readline())
        self.access_log = os.path.join(work, "nginx", "access.log")
        self.api = f"http://127.0.0.1:{link.proxy(_port(ready['api']))}"
        if nginx:
            git_port, raw_port = self._start_nginx(bare, self._raw_root(slug, repo))
        else:
            git_port, raw_port = _port(ready["git"]), _port(ready["raw"])
        self.raw = f"http://127.0.0.1:{link.proxy(raw_port)}"
        self.git = f"http://127.0.0.1:{link.proxy(git_port)}"

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
        return _lines(self.log), _lines(self.access_log)

    def requests_since(self, mark):
        time.sleep(0.05)  # the test server logs just after the last byte is written
        return (_lines(self.log) - mark[0]) + (_lines(self.access_log) - mark[1])

    def _bare(self, slug, repo):
        """A bare copy of the repository under `projects/` (nginx's GIT_PROJECT_ROOT), which both servers serve."""
        bare = os.path.join(self.work, "projects", slug + ".git")
        os.makedirs(os.path.dirname(bare), exist_ok=True)
        subprocess.run(["git", "clone", "-q", "--bare", repo.path, bare], check=True)
        # HEAD is B (what `git clone --depth 1` gets); tag bench-a is A (the shallow clone a fetch starts from).
        for args in (("config", "uploadpack.allowFilter", "true"), ("config", "uploadpack.allowAnySHA1InWant", "true"),
                     ("update-ref", "refs/heads/bench-b", repo.b), ("symbolic-ref", "HEAD", "refs/heads/bench-b"),
                     ("update-ref", "refs/tags/bench-a", repo.a)):
            subprocess.run(["git", "-C", bare, *args], check=True)
        return bare

    def _raw_root(self, slug, repo):
        """The raw host's document root: `git archive` of A and B under `{slug}/{commit}/`, symlinks made files
        holding their target."""
        root = os.path.join(self.work, "raw")
        for commit in dict.fromkeys((repo.a, repo.b)):
            d = os.path.join(root, slug, commit)
            os.makedirs(d)
            archive = subprocess.run(["git", "-C", repo.path, "archive", commit], check=True,
                                     capture_output=True).stdout
            subprocess.run(["tar", "-x", "-C", d], input=archive, check=True)
            for top, dirs, files in os.walk(d):
                for name in files + dirs:
                    p = os.path.join(top, name)
                    if os.path.islink(p):
                        target = os.readlink(p)
                        os.remove(p)
                        with open(p, "w") as f:
                            f.write(target)
        return root

    def _start_nginx(self, bare, raw_root):
        """nginx on two ports: git smart HTTP (fastcgi to git http-backend) and the static raw host."""
        d = os.path.join(self.work, "nginx")
        projects = os.path.join(self.work, "projects")
        os.makedirs(d, exist_ok=True)
        sock = os.path.join(d, "fcgiwrap.sock")
        self.procs.append(subprocess.Popen(["fcgiwrap", "-c", "4", "-s", f"unix:{sock}"], stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL, start_new_session=True))
        port, raw_port = _free_port(), _free_port()
        user = "user root root;" if os.geteuid() == 0 else ""
        tmp = os.path.join(d, "tmp")
        os.makedirs(tmp, exist_ok=True)
        with open(os.path.join(d, "nginx.conf"), "w") as f:
            f.write(f"""{user}
worker_processes 1;
error_log {d}/error.log;
pid {d}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
    access_log {self.access_log};
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    keepalive_requests 100000;
    client_max_body_size 0;
    server {{
        listen 127.0.0.1:{port};
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
        }}
    }}
    server {{
        listen 127.0.0.1:{raw_port};
        root {raw_root};
        default_type "text/plain; charset=utf-8";
    }}
}}
""")
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.02)
        self.procs.append(subprocess.Popen(
            ["nginx", "-p", d, "-c", os.path.join(d, "nginx.conf"), "-g", "daemon off;"], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True))
        for _ in range(250):
            if _accepts(port) and _accepts(raw_port):
                return port, raw_port
            time.sleep(0.02)
        raise RuntimeError(f"nginx did not start: {open(os.path.join(d, 'error.log')).read()}")

    def stop(self):
        """Stop each server's process group (fcgiwrap's preforked children, nginx's worker, git cat-file)."""
        for p in reversed(self.procs):
            os.killpg(p.pid, signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


def _free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _accepts(port):
    import socket
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0
