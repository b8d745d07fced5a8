"""One benchmark session: the scenario repositories (cached), the test CA, the link, the servers and the runs."""
import os
import shutil
import subprocess
import time

from . import fleet, link as linkmod, measure, peers, resume, report, scenario, servers as servermod, tls, verify

# name → generate() arguments. conf1k and conf10k are the repositories of the first tables (seed 6, unchanged);
# conf20k and conf100k have two B commits on the same A (12 and 1,000 files changed). conf100k's files are half
# as big (median 1 KB, ~190 MB) so that preparing each repetition (a full sync of A) stays under a minute.
REPOS = {
    "conf1k": dict(files=1000, changes=(12,)),
    "conf10k": dict(files=10_000, changes=(1000,)),
    "conf20k": dict(files=20_000, changes=(12, 1000)),
    "conf100k": dict(files=100_000, changes=(12, 1000), median=1024),
}
# GitHub truncates a recursive tree listing at 100,000 entries or 7 MB; the test server cuts by count only, so the
# count is what 7 MB holds at this listing's entry size (~230 B: path, mode, type, sha, size, url).
TREE_BYTES_LIMIT, TREE_ENTRIES_LIMIT, TREE_ENTRY_BYTES = 7_000_000, 100_000, 230


def environment(work):
    """The children's environment: a scratch HOME and XDG directories, no tokens, no proxies, no git config."""
    home = os.path.join(work, "home")
    os.makedirs(home, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("GH_TOKEN", "GITHUB_TOKEN", "GH_ENTERPRISE_TOKEN", "GITHUB_ENTERPRISE_TOKEN")}
    env.update(HOME=home, XDG_CONFIG_HOME=os.path.join(home, ".config"), XDG_CACHE_HOME=os.path.join(home, ".cache"),
               XDG_STATE_HOME=os.path.join(home, ".state"), NO_COLOR="1", GIT_CONFIG_NOSYSTEM="1",
               GIT_TERMINAL_PROMPT="0", NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy", "GIT_SSL_NO_VERIFY",
              "GIT_SSL_CAINFO", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"):
        env.pop(k, None)
    return env


class Bench:
    """One benchmark session. `binaries` is [(label, path)], the first labelled None (this checkout's build)."""

    def __init__(self, opts, work, binaries, scenarios):
        self.opts, self.work, self.scenarios = opts, work, scenarios
        self.env = environment(work)
        self.link = linkmod.Link()
        self.authority = None if opts.plain_http else tls.make_ca(os.path.join(work, "ca"))
        self.smart, self.has_transport = [], True
        for label, path in binaries:
            tools, has = peers.transports(path, label)
            self.smart += tools
            self.has_transport = self.has_transport and has
        self.cache = None if opts.smoke or opts.no_cache else opts.cache
        self.raw_root = os.path.join(self.cache or work, "raw")
        self.repos, self.servers, self.cells, self.generated = {}, {}, [], {}

    def repo(self, name, variant):
        """The `scenario.Repo` of `name` (REPOS, or --repo) with commit B of `variant` (files changed)."""
        if name not in self.repos:
            scratch = os.path.join(self.work, "repos", name)
            os.makedirs(os.path.dirname(scratch), exist_ok=True)
            if name == "blob":
                self.repos[name], took = {None: scenario.generate_blob(scratch, self.opts.resume_mib)}, 0.0
            elif self.opts.repo:
                r = scenario.existing(self.opts.repo, self.opts.rev_a, self.opts.rev_b)
                self.repos[name], took = {v: r for v in REPOS.get(name, {}).get("changes", (None,))}, 0.0
            else:
                kw = dict(REPOS[name], files=50) if self.opts.smoke and name == "conf1k" else REPOS[name]
                print(f"{name}: {'generating' if not self.cache else 'generating or reusing'} {kw['files']:,} files",
                      flush=True)
                self.repos[name], took = scenario.cached(self.cache, name, scratch, **kw)
                if took:
                    print(f"{name}: generated in {took:.0f} s" + (f" (cached in {self.cache})" if self.cache else ""))
            self.generated[name] = round(took, 1)
        return self.repos[name][variant]

    def servers_for(self, name, variant):
        key = (name, variant)
        if key not in self.servers:
            r = self.repo(name, variant)
            srv_dir = os.path.join(self.work, "servers", f"{name}-{variant}")
            os.makedirs(srv_dir)
            raw_root = None
            if name != "blob":
                scenario.raw_tree(r, r.a, self.raw_root, peers.SLUG)
                for commit in dict.fromkeys((r.b, *r.history)):
                    scenario.raw_tree(r, commit, self.raw_root, peers.SLUG, base=r.a)
                raw_root = self.raw_root
            entries = len(r.files(r.b))
            limit = min(TREE_ENTRIES_LIMIT, TREE_BYTES_LIMIT // TREE_ENTRY_BYTES)
            self.servers[key] = servermod.Servers(srv_dir, peers.SLUG, r, self.link, raw_root, self.authority,
                                                  truncate_tree_over=limit if entries > limit else None)
        return self.servers[key]

    def tools(self, kind, spec):
        """The tools that do `kind` (cold, update, noop), less those --tools (or the scenario) leaves out."""
        chosen = self.opts.tools.split(",") if self.opts.tools else spec.get("tools")
        every = self.smart + [peers.GitClone(), peers.GitFetch(), peers.GitStatus(), peers.Aria2(),
                              peers.CurlParallel(), peers.CurlSerial()]
        keep = lambda t: not chosen or t.name in chosen or t.name.split("@")[0] in chosen
        return [t for t in every if kind in t.kinds and keep(t)]

    def cell(self, name, link_name):
        spec = self.scenarios[name]
        link = linkmod.LINKS[link_name]
        self.link.rate, self.link.rtt = link["rate"], link["rtt"]
        repo_name, variant = spec["repo"]
        kind = spec["kind"]
        if kind == "fleet":  # its own servers: an origin behind the link, a cache in front (benchlib/fleet.py)
            return self.fleet_cell(name, link_name, spec, self.repo(repo_name, variant))
        repo, srv = self.repo(repo_name, variant), self.servers_for(repo_name, variant)
        cell = dict(scenario=name, link=link_name, kind=kind, description=spec["description"], tools={},
                    tls=not self.opts.plain_http, repo=repo_name, load_start=os.getloadavg())
        if kind == "resume":
            resume.run_cell(self, cell, repo, srv)
        else:
            self.run_sync_cell(cell, repo, srv, spec)
        cell["load_end"] = os.getloadavg()
        report.summarize(cell, link)
        self.cells.append(cell)
        print("\n" + report.markdown(cell, link), flush=True)
        return cell

    def fleet_cell(self, name, link_name, spec, repo):
        link = linkmod.LINKS[link_name]
        cell = dict(scenario=name, link=link_name, link_label=link["label"], kind="fleet", reps=self.opts.reps,
                    description=spec["description"], repo=spec["repo"][0], tls=False, load_start=os.getloadavg())
        fleet.run_cell(self, cell, repo, self.link)
        cell["load_end"] = os.getloadavg()
        fleet.summarize(cell)
        self.cells.append(cell)
        print("\n" + fleet.markdown(cell), flush=True)
        return cell

    def run_sync_cell(self, cell, repo, srv, spec):
        kind = cell["kind"]
        files = repo.files(repo.b) if kind == "cold" else (repo.changed(repo.a, repo.b) if kind == "update" else [])
        cell["files_total"], cell["files_to_fetch"] = len(repo.files(repo.b)), len(files)
        cell["description"] += f" This repository: {len(files):,} of {cell['files_total']:,} files to download."
        active = []
        for t in self.tools(kind, spec):
            why = peers.available(t)
            if why is None and isinstance(t, peers.CurlSerial) and len(files) > self.opts.serial_max:
                why = f"{len(files)} files > --serial-max {self.opts.serial_max}"
            tls_rtts = peers.handshakes(t, kind, len(files)) if self.authority else 0
            cell["tools"][t.name] = {"rtts": t.rtts(kind, len(files)) + tls_rtts, "runs": []}
            if why:
                cell["tools"][t.name]["skipped"] = why
                print(f"{cell['scenario']}/{cell['link']}: {t.name} skipped: {why}", flush=True)
            else:
                active.append(t)
        if not self.has_transport:
            print(f"{cell['scenario']}/{cell['link']}: a build without --transport has no smart-sync-pack row")
        kept = {}  # a no-op changes nothing: each tool's prepared directory serves every repetition
        for rep in range(self.opts.reps):
            order = active[rep % len(active):] + active[:rep % len(active)]  # alternate, and rotate who goes first
            for t in order:
                self.run_one(cell, repo, srv, t, rep, files, kept)
        for d in kept.values():
            shutil.rmtree(d, ignore_errors=True)

    def run_one(self, cell, repo, srv, t, rep, files, kept):
        kind = cell["kind"]
        d = os.path.join(self.work, "runs", f"{cell['scenario']}-{cell['link']}-{t.name}-{rep}")
        reuse = kind == "noop" and t.name in kept
        if reuse:
            d = kept[t.name]
        else:
            os.makedirs(d)
        run = peers.Run(d, kind, repo, srv, self.env, files, history=self.opts.history)
        untimed = lambda argv: measure.untimed(argv, self.env, self.link, log=run.log)
        started = time.monotonic()
        try:
            if not reuse:
                t.prepare(run, untimed)
            prepared = time.monotonic() - started
            r = measure.run(t.command(run), self.env, self.link, srv, log=run.log)
            r["prep_s"] = round(prepared, 1)
        except subprocess.CalledProcessError as e:
            r = dict(ok=False, exit=e.returncode, wall=0.0, error=f"preparation failed: {e}")
        if r["ok"] and isinstance(t, peers.SmartSync):
            diff = verify.compare(repo, repo.b, run.target)
            if diff:
                r.update(ok=False, error=f"target differs from the tree of B: {diff}")
            r["summary"] = verify.summary_line(run.log)
        if not r["ok"]:
            r.setdefault("error", open(run.log, errors="replace").read()[-2000:])
            print(f"  {t.name} rep {rep}: FAILED: {r['error']}", flush=True)
        r["rep"] = rep
        cell["tools"][t.name]["runs"].append(r)
        print(f"  {cell['scenario']}/{cell['link']} rep {rep} {t.name}: {r['wall']:.3f} s, "
              f"{r.get('bytes_down', 0):,} B down, {r.get('requests', 0)} requests, "
              f"{r.get('rss_kib', 0) / 1024:.1f} MiB (prepared in {r.get('prep_s', 0):.0f} s)", flush=True)
        if kind == "noop" and r["ok"]:
            kept[t.name] = d
        elif not reuse:
            shutil.rmtree(d, ignore_errors=True)
        if reuse and not r["ok"]:
            kept.pop(t.name, None)
            shutil.rmtree(d, ignore_errors=True)

    def close(self):
        for srv in self.servers.values():
            srv.stop()
        self.link.close()
