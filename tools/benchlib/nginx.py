"""The benchmarks' nginx: one configuration skeleton, one start that waits for the ports, one stop.

servers.py (the GitHub-shaped hosts) and fleet.py (the fleet's origin and cache) each write only what goes inside
`http { }`; everything around it (the user, pid, error log, temp paths, keep-alive) is the same for both.
"""
import os
import signal
import socket
import subprocess
import time


def conf(d, http, workers=1):
    """The nginx.conf of a server whose scratch directory is `d` (error.log, nginx.pid and temp paths there);
    `http` goes inside `http { }` after the shared settings."""
    user = "user root root;" if os.geteuid() == 0 else ""
    return f"""{user}
worker_processes {workers};
error_log {d}/error.log;
pid {d}/nginx.pid;
events {{ worker_connections 4096; }}
http {{
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    keepalive_requests 1000000;
{http}
}}
"""


def start(d, text, ports):
    """Write `text` (see `conf`) to d/nginx.conf, start nginx in its own session (stop it with `stop`) and wait until
    every port in `ports` accepts; raise with the error log if nginx exits or does not accept within 5 s."""
    os.makedirs(os.path.join(d, "tmp"), exist_ok=True)
    with open(os.path.join(d, "nginx.conf"), "w") as f:
        f.write(text)
    p = subprocess.Popen(["nginx", "-p", d, "-c", os.path.join(d, "nginx.conf"), "-g", "daemon off;"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    for _ in range(250):
        if all(accepts(port) for port in ports):
            return p
        if p.poll() is not None:
            break
        time.sleep(0.02)
    stop(p)
    try:
        log = open(os.path.join(d, "error.log")).read()
    except OSError:
        log = "(no error.log)"
    raise RuntimeError(f"nginx did not start: {log}")


def stop(*procs):
    """Stop each process's group (nginx's workers, fcgiwrap's preforked children, git cat-file), last started
    first; SIGKILL what has not exited 10 s after SIGTERM."""
    for p in reversed(procs):
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for p in procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def free_port():
    """A TCP port on 127.0.0.1 that nothing listened on a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def accepts(port):
    """Whether something accepts TCP connections on 127.0.0.1:`port`."""
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0
