"""The resume scenario: one large blob, a download killed at 50 %, then a rerun that must fetch only the rest.

Each tool's first run goes unshaped against a raw host that stalls after half the blob (the test server's
`stall_after_bytes` fault, through nginx); once the tool's file holds that half it is killed with SIGKILL, the
fault is cleared and the rerun is measured through the shaped link. `rerun ÷ remaining` = bytes down in the rerun
(over TLS: the HTTP bytes nginx sent, so the handshake and TLS framing do not count) over the bytes the interrupted
run had not kept.
"""
import glob
import os
import shutil
import signal
import subprocess
import time

from . import measure, peers


class Resumer:
    """A tool's interrupted command, its rerun, and the file that grows while it downloads."""

    def __init__(self, name, rtts, first, again, partial, binary=None):
        self.name, self.rtts, self.first, self.again, self.partial, self.binary = (
            name, rtts, first, again, partial, binary)


def resumers(bench, srv, repo):
    url = srv.raw_url(repo.b, "big.bin")
    smart = next(t for t in bench.smart if t.transport == "raw")

    def partials(run):
        files = [p for p in glob.glob(os.path.join(run.dir, "store", "partials", "*")) if not p.endswith(".meta")]
        return max((os.path.getsize(p) for p in files), default=0)

    def size_of(run):
        p = os.path.join(run.target, "big.bin")
        return os.path.getsize(p) if os.path.exists(p) else 0

    out = lambda run: os.path.join(run.target, "big.bin")
    curl = lambda run: ["curl", "-sS", *peers.curl_trust(run)]
    aria = lambda run: ["aria2c", "-q", "-x1", "--file-allocation=none", "--auto-save-interval=1",
                        "--allow-overwrite=false", *peers.curl_trust(run, "--ca-certificate=")]
    return [
        Resumer("smart-sync-raw", 5, lambda run: smart.argv(run, "bench-b"), lambda run: smart.argv(run, "bench-b"),
                partials),
        Resumer("curl-resume", 2, lambda run: curl(run) + ["--create-dirs", "-o", out(run), url],
                lambda run: curl(run) + ["-C", "-", "-o", out(run), url], size_of, binary="curl"),
        Resumer("aria2c-resume", 2, lambda run: aria(run) + ["-d", run.target, "-o", "big.bin", url],
                lambda run: aria(run) + ["-c", "-d", run.target, "-o", "big.bin", url], size_of, binary="aria2c"),
    ]


def interrupt(r, run, srv, half, env):
    """Start `r`'s first command unshaped against a stalling raw host; SIGKILL it at half; return bytes kept."""
    srv.set_faults([{"match": {"listener": "raw"}, "action": {"stall_after_bytes": half, "stall_ms": 600000}}])
    with open(run.log, "ab") as log:
        p = subprocess.Popen(r.first(run), env=env, stdout=log, stderr=log, start_new_session=True)
    deadline = time.monotonic() + 300
    while r.partial(run) < half - (1 << 20) and time.monotonic() < deadline and p.poll() is None:
        time.sleep(0.05)
    time.sleep(1.5)  # the last received bytes land, aria2c saves its control file (every second)
    if p.poll() is None:
        os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    srv.set_faults([])
    return r.partial(run)


def run_cell(bench, cell, repo, srv):
    size = os.path.getsize(os.path.join(repo.path, "big.bin"))
    half = size // 2
    cell["blob_bytes"] = size
    active = []
    for r in resumers(bench, srv, repo):
        if bench.opts.tools and r.name not in bench.opts.tools.split(","):
            continue
        tls_rtts = (2 if r.name.startswith("smart-sync") else 1) if bench.authority else 0  # API + raw host
        cell["tools"][r.name] = {"rtts": r.rtts + tls_rtts, "runs": []}
        if r.binary and shutil.which(r.binary) is None:
            cell["tools"][r.name]["skipped"] = f"{r.binary} not installed"
            print(f"resume/{cell['link']}: {r.name} skipped: {r.binary} not installed", flush=True)
        else:
            active.append(r)
    for rep in range(bench.opts.reps):
        for r in active[rep % len(active):] + active[:rep % len(active)]:
            d = os.path.join(bench.work, "runs", f"resume-{cell['link']}-{r.name}-{rep}")
            os.makedirs(d)
            run = peers.Run(d, "resume", repo, srv, bench.env, ["big.bin"])
            bench.link.set_shape(False)
            kept = interrupt(r, run, srv, half, bench.env)
            res = measure.run(r.again(run), bench.env, bench.link, srv, log=run.log)
            got = os.path.getsize(os.path.join(run.target, "big.bin")) if os.path.exists(
                os.path.join(run.target, "big.bin")) else 0
            if res["ok"] and got != size:
                res.update(ok=False, error=f"big.bin has {got} bytes, want {size}")
            res.update(kept=kept, remaining=size - kept)
            if not res["ok"]:
                res.setdefault("error", open(run.log, errors="replace").read()[-2000:])
                print(f"  {r.name} rep {rep}: FAILED: {res['error']}", flush=True)
            cell["tools"][r.name]["runs"].append(res)
            print(f"  resume/{cell['link']} rep {rep} {r.name}: kept {kept:,} B, rerun {res['wall']:.3f} s, "
                  f"{res.get('bytes_down', 0):,} B down ({res.get('http_down', 0):,} B of HTTP) = "
                  f"{res.get('http_down', 0) / max(1, size - kept):.4f} x "
                  f"remaining", flush=True)
            shutil.rmtree(d, ignore_errors=True)
