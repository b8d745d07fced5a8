#!/usr/bin/env python3
"""A GitHub-shaped test server: REST API + raw host + git smart HTTP, backed by local git repositories.

Stdlib only. See README.md next to this file for usage, the log format and the fault format.
"""

import argparse
import base64
import hashlib
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.parse
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DOCS = "https://docs.github.com/rest"
HEX40 = re.compile(r"^[0-9a-fA-F]{40}$")
HEXSHORT = re.compile(r"^[0-9a-fA-F]{7,39}$")
RATE_LIMIT_MESSAGE = (
    "API rate limit exceeded for {who}. (But here's the good news: Authenticated requests get a higher "
    "rate limit. Check out the documentation for more details.)"
)
SECONDARY_MESSAGE = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."


class NotFound(Exception):
    pass


class GitError(Exception):
    pass


# --------------------------------------------------------------------------------------------------
# Git access
# --------------------------------------------------------------------------------------------------


class Batch:
    """One long-running `git cat-file --batch[-check]` process, serialized by a lock."""

    def __init__(self, path, check):
        self.path = path
        self.check = check
        self.lock = threading.Lock()
        self.proc = None

    def _start(self):
        mode = "--batch-check" if self.check else "--batch"
        self.proc = subprocess.Popen(
            ["git", "-C", self.path, "cat-file", mode],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )

    def query(self, name):
        """Returns (sha, type, size, content-or-None), or None when missing; raises GitError when ambiguous."""
        if "\n" in name or not name:
            return None
        with self.lock:
            if self.proc is None or self.proc.poll() is not None:
                self._start()
            self.proc.stdin.write(name.encode() + b"\n")
            self.proc.stdin.flush()
            header = self.proc.stdout.readline().decode().rstrip("\n")
            parts = header.split(" ")
            if len(parts) == 2 and parts[1] == "missing":
                return None
            if len(parts) == 2 and parts[1] == "ambiguous":
                raise GitError("ambiguous")
            if len(parts) != 3:
                return None
            sha, typ, size = parts[0], parts[1], int(parts[2])
            content = None
            if not self.check:
                content = self.proc.stdout.read(size)
                self.proc.stdout.read(1)
            return sha, typ, size, content

    def close(self):
        with self.lock:
            if self.proc is not None:
                try:
                    self.proc.stdin.close()
                    self.proc.wait(timeout=2)
                except Exception:
                    self.proc.kill()


class Repo:
    """A local git repository served as OWNER/NAME. Object-keyed results are cached (SHAs are immutable)."""

    MAX_CACHED_OBJECT = 4 << 20
    MAX_CACHE_BYTES = 256 << 20

    def __init__(self, full_name, path, private):
        self.full_name = full_name
        self.owner, self.name = full_name.split("/", 1)
        self.path = path
        self.private = private
        self.batch = Batch(path, check=False)
        self.batch_check = Batch(path, check=True)
        self.cache_lock = threading.Lock()
        self.objects = {}  # sha -> (type, bytes)
        self.cache_bytes = 0
        self.trees = {}  # (tree sha, recursive) -> [entry]
        self.path_index = {}  # tree sha -> {path: entry}

    def git(self, *args):
        out = subprocess.run(["git", "-C", self.path] + list(args), capture_output=True)
        if out.returncode != 0:
            raise GitError(out.stderr.decode(errors="replace").strip())
        return out.stdout

    # objects ---------------------------------------------------------------------------------------

    def info(self, name):
        """(sha, type, size) for an object name (full or short hex), or None. Raises GitError if ambiguous."""
        r = self.batch_check.query(name)
        return None if r is None else r[:3]

    def read(self, sha):
        """(type, bytes) of an object by full SHA, or raise NotFound."""
        sha = sha.lower()
        with self.cache_lock:
            hit = self.objects.get(sha)
        if hit is not None:
            return hit
        r = self.batch.query(sha)
        if r is None:
            raise NotFound(sha)
        result = (r[1], r[3])
        if r[2] <= self.MAX_CACHED_OBJECT:
            with self.cache_lock:
                if self.cache_bytes + r[2] > self.MAX_CACHE_BYTES:
                    self.objects.clear()
                    self.cache_bytes = 0
                self.objects[sha] = result
                self.cache_bytes += r[2]
        return result

    def parse_commit(self, sha):
        typ, data = self.read(sha)
        if typ != "commit":
            raise NotFound(sha)
        return parse_headers(data)

    def parse_tag(self, sha):
        typ, data = self.read(sha)
        if typ != "tag":
            raise NotFound(sha)
        return parse_headers(data)

    def peel(self, sha, want):
        """Follows tags (and commit -> tree when want == 'tree') from sha; returns the SHA of type `want`."""
        for _ in range(32):
            typ, _ = self.read(sha)
            if typ == want:
                return sha
            if typ == "tag":
                sha = self.parse_tag(sha)["object"]
            elif typ == "commit" and want == "tree":
                sha = self.parse_commit(sha)["tree"]
            else:
                raise NotFound(sha)
        raise NotFound(sha)

    # refs ------------------------------------------------------------------------------------------

    def refs(self):
        """[(refname, sha, type)] for every ref under refs/ (branches, tags, refs/pull/..., as GitHub keeps them;
        never cached: branches move)."""
        out = self.git("for-each-ref", "--format=%(refname) %(objectname) %(objecttype)", "refs/")
        refs = []
        for line in out.decode().splitlines():
            name, sha, typ = line.rsplit(" ", 2)
            refs.append((name, sha, typ))
        return refs

    def ref_map(self):
        return {name: (sha, typ) for name, sha, typ in self.refs()}

    def default_branch(self):
        try:
            head = self.git("symbolic-ref", "HEAD").decode().strip()
            if head.startswith("refs/heads/"):
                return head[len("refs/heads/"):]
        except GitError:
            pass
        return "main"

    def resolve_name(self, ref, refs=None):
        """Resolves a branch / tag / refs/... name (no SHAs) to the SHA the ref points at, or None."""
        refs = self.ref_map() if refs is None else refs
        if ref == "HEAD":
            # GitHub resolves HEAD to the default branch's tip.
            ref = "refs/heads/" + self.default_branch()
        for candidate in (ref, "refs/" + ref, "refs/heads/" + ref, "refs/tags/" + ref):
            if candidate.startswith("refs/") and candidate in refs:
                return refs[candidate][0]
        return None

    def resolve_commit(self, ref):
        """Resolves a ref as GET /repos/{o}/{r}/commits/{ref} does. Raises NotFound, or GitError('ambiguous')."""
        if HEX40.match(ref):
            info = self.info(ref.lower())
            if info is not None:
                return self.peel(info[0], "commit")
        sha = self.resolve_name(ref)
        if sha is not None:
            return self.peel(sha, "commit")
        if HEXSHORT.match(ref):
            info = self.info(ref.lower())  # may raise ambiguous
            if info is not None:
                return self.peel(info[0], "commit")
        raise NotFound(ref)

    def resolve_tree_ish(self, ref):
        """The tree SHA for a tree / commit / tag SHA or a ref name, as GET .../git/trees/{sha} accepts."""
        if HEX40.match(ref):
            if self.info(ref.lower()) is None:
                raise NotFound(ref)
            return self.peel(ref.lower(), "tree")
        sha = self.resolve_name(ref)
        if sha is None:
            raise NotFound(ref)
        return self.peel(sha, "tree")

    # trees -----------------------------------------------------------------------------------------

    def ls_tree(self, tree, recursive):
        key = (tree, recursive)
        with self.cache_lock:
            hit = self.trees.get(key)
        if hit is not None:
            return hit
        args = ["ls-tree", "-l", "-z"] + (["-r", "-t"] if recursive else []) + [tree]
        out = self.git(*args)
        entries = []
        for rec in out.split(b"\0"):
            if not rec:
                continue
            meta, path = rec.split(b"\t", 1)
            mode, typ, sha, size = meta.decode().split()
            entries.append(
                {
                    "path": path.decode("utf-8", errors="surrogateescape"),
                    "mode": mode,
                    "type": typ,
                    "sha": sha,
                    "size": None if size == "-" else int(size),
                }
            )
        with self.cache_lock:
            self.trees[key] = entries
        return entries

    def lookup_path(self, tree, path):
        with self.cache_lock:
            index = self.path_index.get(tree)
        if index is None:
            index = {e["path"]: e for e in self.ls_tree(tree, True)}
            with self.cache_lock:
                self.path_index[tree] = index
        return index.get(path)

    def close(self):
        self.batch.close()
        self.batch_check.close()


def parse_headers(data):
    """Parses a commit or tag object: header fields (parents as a list) and the message."""
    text = data.decode("utf-8", errors="replace")
    head, _, message = text.partition("\n\n")
    fields = {"parents": [], "message": message}
    last = None
    for line in head.split("\n"):
        if line.startswith(" ") and last:
            fields[last] += "\n" + line[1:]
            continue
        key, _, value = line.partition(" ")
        last = key
        if key == "parent":
            fields["parents"].append(value)
        elif key not in fields:
            fields[key] = value
    return fields


def parse_ident(value):
    """'Name <email> 1700000000 +0100' -> {name, email, date (ISO 8601 UTC)}."""
    m = re.match(r"^(.*?) <(.*?)> (\d+) ([+-]\d{4})$", value or "")
    if not m:
        return {"name": value, "email": "", "date": "1970-01-01T00:00:00Z"}
    ts = int(m.group(3))
    return {"name": m.group(1), "email": m.group(2), "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))}


# --------------------------------------------------------------------------------------------------
# Shared server state: repos, rate limits, faults, log
# --------------------------------------------------------------------------------------------------


class State:
    def __init__(self, args):
        self.repos = {}
        for spec in args.repo:
            name, _, path = spec.partition("=")
            if "/" not in name or not path:
                sys.exit("--repo wants OWNER/NAME=/path, got %r" % spec)
            self.repos[name.lower()] = Repo(name, os.path.abspath(path), name in args.private)
        self.token = args.token
        self.truncate_tree_over = args.truncate_tree_over
        self.rate_limit = args.rate_limit
        self.log_path = args.log
        self.faults_path = args.faults
        self.lock = threading.Lock()
        self.counters = {}  # key -> [used, reset]
        self.faults_mtime = None
        self.rules = []
        self.remaining_times = []
        self.latency_ms = 0
        self.api_base = ""
        self.raw_base = ""
        self.request_ids = 0

    # rate limits -----------------------------------------------------------------------------------

    def limit_for(self, authenticated):
        if self.rate_limit is not None:
            return self.rate_limit
        return 5000 if authenticated else 60

    def counter(self, key):
        now = int(time.time())
        c = self.counters.get(key)
        if c is None or now >= c[1]:
            c = [0, now + 3600]
            self.counters[key] = c
        return c

    # faults ----------------------------------------------------------------------------------------

    def reload_faults(self):
        if not self.faults_path:
            return
        try:
            st = os.stat(self.faults_path)
            mtime = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            mtime = None
        if mtime == self.faults_mtime:
            return
        self.faults_mtime = mtime
        rules, latency = [], 0
        if mtime is not None:
            try:
                with open(self.faults_path) as f:
                    text = f.read()
                doc = json.loads(text) if text.strip() else []
            except (OSError, ValueError) as e:
                sys.stderr.write("fake_github: bad faults file: %s\n" % e)
                doc = []
            if isinstance(doc, dict):
                rules = doc.get("rules", [])
                latency = int(doc.get("latency_ms", 0))
            else:
                rules = doc
        self.rules = rules
        self.remaining_times = [r.get("times") for r in rules]
        self.latency_ms = latency

    def take_fault(self, listener, method, path, body=b""):
        """Returns (action dict or None, global latency ms). Consumes one of the rule's `times`."""
        with self.lock:
            self.reload_faults()
            for i, rule in enumerate(self.rules):
                m = rule.get("match", {})
                if m.get("listener") not in (None, listener):
                    continue
                if m.get("method") not in (None, method):
                    continue
                if "path_regex" in m and not re.search(m["path_regex"], path):
                    continue
                if "body_contains" in m and m["body_contains"].encode() not in body:
                    continue
                left = self.remaining_times[i]
                if left is not None:
                    if left <= 0:
                        continue
                    self.remaining_times[i] = left - 1
                return dict(rule.get("action", {})), self.latency_ms
            return None, self.latency_ms

    # log -------------------------------------------------------------------------------------------

    def log(self, record):
        if not self.log_path:
            return
        line = json.dumps(record, sort_keys=True) + "\n"
        with self.lock:
            with open(self.log_path, "a") as f:
                f.write(line)
                f.flush()


STATE = None


# --------------------------------------------------------------------------------------------------
# Request handling
# --------------------------------------------------------------------------------------------------


class Response:
    def __init__(self, status, body=b"", content_type="application/json; charset=utf-8", headers=None):
        self.status = status
        self.body = body if isinstance(body, bytes) else body.encode()
        self.headers = [("Content-Type", content_type)] if content_type else []
        for k, v in (headers or {}).items():
            self.headers.append((k, str(v)))
        self.no_body = False  # 304, HEAD
        self.counts = True  # counts against the rate limit


def json_response(status, obj, headers=None):
    return Response(status, json.dumps(obj, indent=2) + "\n", headers=headers)


def error_response(status, message):
    return json_response(status, {"message": message, "documentation_url": DOCS, "status": str(status)})


def override_headers(r, f):
    """A fault's "headers": each replaces the response's headers of that name (case-insensitive)."""
    for k, v in (f.get("headers") or {}).items():
        r.headers = [(hk, hv) for hk, hv in r.headers if hk.lower() != k.lower()]
        r.headers.append((k, str(v)))


def etag_matches(header, etag):
    if not header:
        return False
    if header.strip() == "*":
        return True
    want = etag[2:] if etag.startswith("W/") else etag
    for candidate in header.split(","):
        c = candidate.strip()
        if c.startswith("W/"):
            c = c[2:]
        if c == want or c == want.strip('"'):
            return True
    return False


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    listener = "api"

    def log_message(self, format, *args):  # quiet: we keep our own JSON log
        pass

    def version_string(self):
        return "GitHub.com" if self.listener == "api" else "Varnish"

    def do_GET(self):
        self.dispatch("GET")

    def do_HEAD(self):
        self.dispatch("HEAD")

    def do_POST(self):
        self.dispatch("POST")

    def header(self, name):
        return self.headers.get(name)

    def begin(self, method, body=b""):
        """Resets the request's counters and takes its fault: the global latency, a rule's delay, its action."""
        self.sent_bytes = 0
        fault, latency = STATE.take_fault(self.listener, method, self.path, body)
        if latency:
            time.sleep(latency / 1000.0)
        if fault and "delay_ms" in fault:
            time.sleep(fault["delay_ms"] / 1000.0)
        self.fault = fault or {}

    def dispatch(self, method):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.begin(method, body)
        try:
            resp = self.fault_response() or (self.api(method) if self.listener == "api" else self.raw(method))
        except Exception as e:  # a bug here must not kill the connection silently
            sys.stderr.write("fake_github: %s %s: %r\n" % (method, self.path, e))
            resp = error_response(500, "Server Error")
        if method == "HEAD":
            resp.no_body = True
        self.send(resp, method)

    # faults that replace the response --------------------------------------------------------------

    def fault_response(self):
        f = self.fault
        if f.get("redirect_to"):
            r = Response(302, "", content_type="text/html; charset=utf-8", headers={"Location": f["redirect_to"]})
            r.counts = False
            return r
        if f.get("rate_limit_exhausted"):
            reset = int(time.time()) + int(f.get("reset_in", 60))
            r = error_response(403, RATE_LIMIT_MESSAGE.format(who=self.client_address[0]))
            r.headers += [
                ("x-ratelimit-limit", str(STATE.limit_for(self.authenticated()))),
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-used", str(STATE.limit_for(self.authenticated()))),
                ("x-ratelimit-reset", str(reset)),
                ("x-ratelimit-resource", "core"),
            ]
            r.counts = False
            r.rate_headers_done = True
            override_headers(r, f)
            return r
        if "status" in f:
            status = int(f["status"])
            body = f.get("body")
            if body is None:
                message = SECONDARY_MESSAGE if status == 429 else "Injected fault"
                r = error_response(status, message)
            else:
                stripped = body.strip()
                ctype = "application/json; charset=utf-8" if stripped[:1] in ("{", "[") else "text/plain; charset=utf-8"
                r = Response(status, body, content_type=ctype)
            if "retry_after" in f:
                r.headers.append(("Retry-After", str(f["retry_after"])))
            override_headers(r, f)
            r.counts = False
            return r
        return None

    # auth ------------------------------------------------------------------------------------------

    def presented_token(self):
        auth = self.header("Authorization")
        if not auth:
            return None
        scheme, _, value = auth.strip().partition(" ")
        if scheme.lower() in ("bearer", "token"):
            return value.strip()
        return ""

    def authenticated(self):
        tok = self.presented_token()
        if tok is None:
            return False
        return STATE.token is None or tok == STATE.token

    def bad_credentials(self):
        tok = self.presented_token()
        return tok is not None and STATE.token is not None and tok != STATE.token

    def repo_for(self, owner, name):
        repo = STATE.repos.get(("%s/%s" % (owner, name)).lower())
        if repo is None:
            raise NotFound(owner + "/" + name)
        if repo.private and not (self.presented_token() is not None and self.authenticated()):
            raise NotFound(owner + "/" + name)
        return repo

    # API -------------------------------------------------------------------------------------------

    def api(self, method):
        if self.bad_credentials():
            r = error_response(401, "Bad credentials")
            return r
        if method not in ("GET", "HEAD"):
            return error_response(404, "Not Found")
        parsed = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(parsed.query)
        parts = [urllib.parse.unquote(p) for p in parsed.path.split("/")[1:]]
        accept = (self.header("Accept") or "").lower()
        try:
            if parts == ["rate_limit"]:
                return self.rate_limit_body()
            if len(parts) < 3 or parts[0] != "repos":
                raise NotFound(parsed.path)
            repo = self.repo_for(parts[1], parts[2])
            rest = parts[3:]
            if not rest:
                return json_response(200, self.repo_json(repo))
            if rest[0] == "commits" and len(rest) >= 2:
                return self.commit_endpoint(repo, "/".join(rest[1:]), accept)
            if rest[0] == "compare" and len(rest) >= 2:
                return self.compare_endpoint(repo, "/".join(rest[1:]), query)
            if rest[0] == "git" and len(rest) >= 3:
                kind, arg = rest[1], "/".join(rest[2:])
                if kind == "commits":
                    return json_response(200, self.git_commit_json(repo, self.full_sha(repo, arg, "commit")))
                if kind == "tags":
                    return json_response(200, self.git_tag_json(repo, self.full_sha(repo, arg, "tag")))
                if kind == "ref":
                    return self.ref_endpoint(repo, arg)
                if kind == "matching-refs":
                    return self.matching_refs(repo, arg)
                if kind == "trees":
                    recursive = bool(query.get("recursive", [""])[0]) and query.get("recursive", [""])[0] not in ("0", "false")
                    return self.tree_endpoint(repo, arg, recursive)
                if kind == "blobs":
                    return self.blob_endpoint(repo, arg, accept)
            raise NotFound(parsed.path)
        except NotFound:
            return error_response(404, "Not Found")

    def full_sha(self, repo, arg, typ):
        if not HEX40.match(arg):
            raise NotFound(arg)
        if repo.read(arg.lower())[0] != typ:
            raise NotFound(arg)
        return arg.lower()

    def url(self, repo, suffix):
        return "%s/repos/%s/%s" % (STATE.api_base, repo.full_name, suffix)

    def html(self, repo, suffix=""):
        return "https://github.com/%s%s" % (repo.full_name, suffix)

    def rate_limit_body(self):
        with STATE.lock:
            used, reset = STATE.counter(self.rate_key())
        limit = STATE.limit_for(self.authenticated())
        core = {"limit": limit, "used": used, "remaining": max(0, limit - used), "reset": reset}
        r = json_response(200, {"resources": {"core": core}, "rate": core})
        r.counts = False
        return r

    def repo_json(self, repo):
        owner = {
            "login": repo.owner,
            "id": 1,
            "type": "User",
            "url": "%s/users/%s" % (STATE.api_base, repo.owner),
            "html_url": "https://github.com/" + repo.owner,
        }
        return {
            "id": int(hashlib.sha1(repo.full_name.encode()).hexdigest()[:8], 16),
            "node_id": "R_" + base64.b64encode(repo.full_name.encode()).decode(),
            "name": repo.name,
            "full_name": repo.full_name,
            "private": repo.private,
            "owner": owner,
            "html_url": self.html(repo),
            "description": None,
            "fork": False,
            "url": "%s/repos/%s" % (STATE.api_base, repo.full_name),
            "git_refs_url": self.url(repo, "git/refs{/sha}"),
            "trees_url": self.url(repo, "git/trees{/sha}"),
            "blobs_url": self.url(repo, "git/blobs{/sha}"),
            "commits_url": self.url(repo, "commits{/sha}"),
            "default_branch": repo.default_branch(),
            "visibility": "private" if repo.private else "public",
            "archived": False,
            "disabled": False,
        }

    def commit_endpoint(self, repo, ref, accept):
        try:
            sha = repo.resolve_commit(ref)
        except (NotFound, GitError):
            return error_response(422, "No commit found for SHA: %s" % ref)
        if "vnd.github.sha" in accept or re.search(r"vnd\.github\.[^;,]*\.sha", accept):
            return Response(200, sha, content_type="application/vnd.github.sha; charset=utf-8",
                            headers={"ETag": '"%s"' % sha})
        c = repo.parse_commit(sha)
        obj = {
            "sha": sha,
            "node_id": "C_" + sha[:20],
            "commit": {
                "author": parse_ident(c.get("author")),
                "committer": parse_ident(c.get("committer")),
                "message": c["message"].rstrip("\n"),
                "tree": {"sha": c["tree"], "url": self.url(repo, "git/trees/" + c["tree"])},
                "url": self.url(repo, "git/commits/" + sha),
                "comment_count": 0,
                "verification": self.verification(repo, sha),
            },
            "url": self.url(repo, "commits/" + sha),
            "html_url": self.html(repo, "/commit/" + sha),
            "comments_url": self.url(repo, "commits/%s/comments" % sha),
            "author": None,
            "committer": None,
            "parents": [
                {"sha": p, "url": self.url(repo, "commits/" + p), "html_url": self.html(repo, "/commit/" + p)}
                for p in c["parents"]
            ],
        }
        return json_response(200, obj)

    def git_commit_json(self, repo, sha):
        c = repo.parse_commit(sha)
        return {
            "sha": sha,
            "node_id": "C_" + sha[:20],
            "url": self.url(repo, "git/commits/" + sha),
            "html_url": self.html(repo, "/commit/" + sha),
            "author": parse_ident(c.get("author")),
            "committer": parse_ident(c.get("committer")),
            "tree": {"sha": c["tree"], "url": self.url(repo, "git/trees/" + c["tree"])},
            "message": c["message"].rstrip("\n"),
            "parents": [
                {"sha": p, "url": self.url(repo, "git/commits/" + p), "html_url": self.html(repo, "/commit/" + p)}
                for p in c["parents"]
            ],
            "verification": self.verification(repo, sha),
        }

    def verification(self, repo, sha):
        """GitHub's verification object: for a signed commit, the signature (gpgsig without its header name and
        continuation spaces) and the payload (the object without the gpgsig header), as GitHub reports them."""
        _, data = repo.read(sha)
        head, sep, message = data.partition(b"\n\n")
        kept, signature, in_sig = [], [], False
        for line in head.split(b"\n"):
            if line.startswith(b"gpgsig "):
                in_sig = True
                signature.append(line[len(b"gpgsig "):])
                continue
            if in_sig and line.startswith(b" "):
                signature.append(line[1:])
                continue
            in_sig = False
            kept.append(line)
        if not signature:
            return {"verified": False, "reason": "unsigned", "signature": None, "payload": None, "verified_at": None}
        payload = b"\n".join(kept) + sep + message
        return {"verified": False, "reason": "unknown_key",
                "signature": (b"\n".join(signature) + b"\n").decode("utf-8", errors="replace"),
                "payload": payload.decode("utf-8", errors="replace"), "verified_at": None}

    def compare_endpoint(self, repo, basehead, query):
        """GET /repos/{o}/{r}/compare/{base}...{head}: GitHub's comparison (status, ahead_by, behind_by, merge base,
        the commits base..head paginated by per_page/page, the files on the first page). Unknown commit, or no common
        ancestor: 404."""
        base, sep, head = basehead.partition("...")
        if not sep:
            raise NotFound(basehead)
        try:
            base_sha, head_sha = repo.resolve_commit(base), repo.resolve_commit(head)
            merge_base = repo.git("merge-base", base_sha, head_sha).decode().strip()
        except (NotFound, GitError):
            return error_response(404, "Not Found")
        ahead = repo.git("rev-list", "--reverse", "%s..%s" % (base_sha, head_sha)).decode().split()
        behind = int(repo.git("rev-list", "--count", "%s..%s" % (head_sha, base_sha)).decode().strip())
        if not ahead and not behind:
            status = "identical"
        elif not behind:
            status = "ahead"
        elif not ahead:
            status = "behind"
        else:
            status = "diverged"
        per_page = max(1, min(250, int(query.get("per_page", ["250"])[0] or 250)))
        page = max(1, int(query.get("page", ["1"])[0] or 1))
        files = []
        if page == 1:
            parts = repo.git("diff", "--raw", "--no-renames", "-z", base_sha, head_sha).split(b"\0")
            for meta, path in zip(parts[0::2], parts[1::2]):
                fields = meta.decode().lstrip(":").split()
                files.append({"sha": fields[3], "filename": path.decode(errors="replace"),
                              "status": {"A": "added", "D": "removed"}.get(fields[4], "modified"),
                              "additions": 0, "deletions": 0, "changes": 0})
        commit_json = lambda sha: json.loads(self.commit_endpoint(repo, sha, "").body)
        return json_response(200, {
            "url": self.url(repo, "compare/" + basehead),
            "html_url": self.html(repo, "/compare/" + basehead),
            "permalink_url": self.html(repo, "/compare/%s...%s" % (base_sha, head_sha)),
            "diff_url": self.html(repo, "/compare/%s.diff" % basehead),
            "patch_url": self.html(repo, "/compare/%s.patch" % basehead),
            "base_commit": commit_json(base_sha),
            "merge_base_commit": commit_json(merge_base),
            "status": status,
            "ahead_by": len(ahead),
            "behind_by": behind,
            "total_commits": len(ahead),
            "commits": [commit_json(c) for c in ahead[(page - 1) * per_page:page * per_page]],
            "files": files,
        })

    def git_tag_json(self, repo, sha):
        t = repo.parse_tag(sha)
        typ = t.get("type", "commit")
        return {
            "node_id": "TAG_" + sha[:20],
            "tag": t.get("tag"),
            "sha": sha,
            "url": self.url(repo, "git/tags/" + sha),
            "message": t["message"],
            "tagger": parse_ident(t.get("tagger")),
            "object": {"sha": t["object"], "type": typ, "url": self.url(repo, "git/%ss/%s" % (typ, t["object"]))},
            "verification": {"verified": False, "reason": "unsigned", "signature": None, "payload": None},
        }

    def ref_json(self, repo, name, sha, typ):
        return {
            "ref": name,
            "node_id": "REF_" + base64.b64encode(name.encode()).decode(),
            "url": self.url(repo, "git/" + name),
            "object": {"sha": sha, "type": typ, "url": self.url(repo, "git/%ss/%s" % (typ, sha))},
        }

    def ref_endpoint(self, repo, ref):
        name = "refs/" + ref
        refs = repo.ref_map()
        if name not in refs:
            raise NotFound(ref)
        sha, typ = refs[name]
        return json_response(200, self.ref_json(repo, name, sha, typ))

    def matching_refs(self, repo, prefix):
        want = "refs/" + prefix
        out = [self.ref_json(repo, n, s, t) for n, s, t in sorted(repo.refs()) if n.startswith(want)]
        return json_response(200, out)

    def tree_endpoint(self, repo, arg, recursive):
        tree = repo.resolve_tree_ish(arg)
        entries = repo.ls_tree(tree, recursive)
        limit = self.fault.get("truncate_tree_over", STATE.truncate_tree_over)
        truncated = False
        if recursive and limit is not None and len(entries) > int(limit):
            entries = entries[: int(limit)]
            truncated = True
        listing = []
        for e in entries:
            item = {"path": e["path"], "mode": e["mode"], "type": e["type"], "sha": e["sha"]}
            if e["type"] == "blob":
                item["size"] = e["size"]
                item["url"] = self.url(repo, "git/blobs/" + e["sha"])
                item.update(self.fault.get("tree_blob_fields", {}))
            elif e["type"] == "tree":
                item["url"] = self.url(repo, "git/trees/" + e["sha"])
            listing.append(item)
        return json_response(200, {"sha": tree, "url": self.url(repo, "git/trees/" + tree), "tree": listing,
                                   "truncated": truncated})

    def blob_endpoint(self, repo, arg, accept):
        sha = self.full_sha(repo, arg, "blob")
        _, data = repo.read(sha)
        if "vnd.github.raw" in accept or re.search(r"vnd\.github\.[^;,]*\.raw", accept):
            return Response(200, data, content_type="application/vnd.github.raw")
        b64 = base64.b64encode(data).decode()
        wrapped = "".join(b64[i:i + 60] + "\n" for i in range(0, len(b64), 60))
        return json_response(200, {"sha": sha, "node_id": "B_" + sha[:20], "size": len(data),
                                   "url": self.url(repo, "git/blobs/" + sha), "content": wrapped,
                                   "encoding": "base64"})

    def rate_key(self):
        tok = self.presented_token()
        if tok is not None and self.authenticated():
            return "token:" + hashlib.sha256(tok.encode()).hexdigest()
        return "ip:" + self.client_address[0]

    def api_headers(self, resp):
        """Adds ETag / 304 handling and rate-limit headers; counts quota. Mutates resp."""
        if getattr(resp, "rate_headers_done", False):
            return resp
        if resp.status == 200:
            etag = dict((k.lower(), v) for k, v in resp.headers).get("etag")
            if etag is None:
                etag = '"%s"' % hashlib.sha256(resp.body).hexdigest()[:40]
                resp.headers.append(("ETag", etag))
            if etag_matches(self.header("If-None-Match"), etag):
                resp.status = 304
                resp.no_body = True
                resp.counts = False
            resp.headers.append(("Cache-Control", "private, max-age=60, s-maxage=60" if self.authenticated()
                                 else "public, max-age=60, s-maxage=60"))
            resp.headers.append(("Vary", "Accept, Authorization, Cookie, X-GitHub-OTP"))
        limit = STATE.limit_for(self.authenticated())
        with STATE.lock:
            c = STATE.counter(self.rate_key())
            if resp.counts and resp.status != 304:
                if c[0] >= limit:
                    exhausted = error_response(403, RATE_LIMIT_MESSAGE.format(who=self.client_address[0]))
                    resp.status, resp.body, resp.headers = exhausted.status, exhausted.body, exhausted.headers
                    resp.no_body = False
                else:
                    c[0] += 1
            used, reset = c[0], c[1]
        resp.headers += [
            ("x-ratelimit-limit", str(limit)),
            ("x-ratelimit-remaining", str(max(0, limit - used))),
            ("x-ratelimit-used", str(used)),
            ("x-ratelimit-reset", str(reset)),
            ("x-ratelimit-resource", "core"),
            ("X-GitHub-Media-Type", "github.v3; format=json"),
        ]
        return resp

    # raw -------------------------------------------------------------------------------------------

    def raw(self, method):
        if method not in ("GET", "HEAD"):
            return Response(405, "405: Method Not Allowed\n", content_type="text/plain; charset=utf-8")
        parsed = urllib.parse.urlsplit(self.path)
        segs = [urllib.parse.unquote(p) for p in parsed.path.split("/")[1:]]
        not_found = Response(404, "404: Not Found", content_type="text/plain; charset=utf-8")
        if len(segs) < 4:
            return not_found
        try:
            repo = self.repo_for(segs[0], segs[1])
            if self.bad_credentials():
                return not_found
            rest = segs[2:]
            commit, path = None, None
            if HEX40.match(rest[0]):
                commit, path = repo.peel(rest[0].lower(), "commit"), "/".join(rest[1:])
            else:
                refs = repo.ref_map()
                for i in range(len(rest) - 1, 0, -1):  # longest ref first
                    sha = repo.resolve_name("/".join(rest[:i]), refs)
                    if sha is not None:
                        commit, path = repo.peel(sha, "commit"), "/".join(rest[i:])
                        break
            if commit is None:
                return not_found
            tree = repo.parse_commit(commit)["tree"]
            entry = repo.lookup_path(tree, path)
            if entry is None or entry["type"] != "blob":
                return not_found
            _, data = repo.read(entry["sha"])
        except (NotFound, GitError):
            return not_found
        return self.raw_blob(entry["sha"], data)

    def raw_blob(self, sha, data):
        etag = '"%s"' % sha
        size = len(data)
        base = {"ETag": etag, "Accept-Ranges": "bytes", "Cache-Control": "max-age=300",
                "X-Content-Type-Options": "nosniff"}
        ctype = "text/plain; charset=utf-8"
        if etag_matches(self.header("If-None-Match"), etag):
            r = Response(304, b"", content_type=None, headers=base)
            r.no_body = True
            return r
        rng = self.header("Range")
        if rng and not self.fault.get("ignore_range"):
            if_range = self.header("If-Range")
            if if_range is None or if_range.strip() == etag:
                span = parse_range(rng, size)
                if span == "unsatisfiable":
                    h = dict(base)
                    h["Content-Range"] = "bytes */%d" % size
                    return Response(416, b"", content_type=ctype, headers=h)
                if span is not None:
                    start, end = span
                    h = dict(base)
                    h["Content-Range"] = "bytes %d-%d/%d" % (start, end, size)
                    return Response(206, data[start:end + 1], content_type=ctype, headers=h)
        return Response(200, data, content_type=ctype, headers=base)

    # sending ---------------------------------------------------------------------------------------

    def send(self, resp, method):
        if self.listener == "api" and "json_fields" in self.fault and resp.status == 200:
            resp.body = rewrite_json_fields(resp.body, self.fault["json_fields"])
        if self.listener == "api":
            resp = self.api_headers(resp)
        f = self.fault
        body = resp.body
        if any(k in f for k in PACK_FAULTS) and resp.status == 200:
            body = rewrite_fetch_response(body, f)
        if "append" in f:
            body = body + f["append"].encode("latin-1")
        if "corrupt_byte_at" in f and 0 <= int(f["corrupt_byte_at"]) < len(body):
            i = int(f["corrupt_byte_at"])
            body = body[:i] + bytes([body[i] ^ 0x01]) + body[i + 1:]
        length = len(body)
        if "wrong_content_length" in f:
            length = int(f["wrong_content_length"])
        self.send_response(resp.status)
        for k, v in resp.headers:
            self.send_header(k, v)
        if resp.status != 304:
            self.send_header("Content-Length", str(length))
        self.send_header("X-GitHub-Request-Id", "FAKE:%08X" % threading.get_ident())
        payload = b"" if resp.no_body else body
        abort = None
        if "reset_after_bytes" in f:
            payload, abort = payload[: int(f["reset_after_bytes"])], "reset"
        elif "truncate_after_bytes" in f:
            payload, abort = payload[: int(f["truncate_after_bytes"])], "close"
        elif "wrong_content_length" in f:
            abort = "close"
        # A response sent whole is logged before its last byte goes out, so a client that has read it all (and a
        # test that then reads the log) always finds it there; one cut short or slowed is logged as it ended.
        whole = abort is None and "stall_after_bytes" not in f and "drip_after_bytes" not in f
        recorded = False
        if whole and not payload:
            self.record(resp.status)
            recorded = True
        self.end_headers()
        try:
            if "stall_after_bytes" in f:
                n = int(f["stall_after_bytes"])
                self.write(payload[:n])
                self.wfile.flush()
                time.sleep(int(f.get("stall_ms", 1000)) / 1000.0)
                self.write(payload[n:])
            elif "drip_after_bytes" in f:
                self.drip(payload, int(f["drip_after_bytes"]), int(f.get("drip_bytes_per_second", 2)),
                          int(f.get("drip_for_ms", 60000)))
            elif whole and payload:
                self.write(payload[:-1])
                self.record(resp.status, pending=1)
                recorded = True
                self.write(payload[-1:])
            else:
                self.write(payload)
            self.wfile.flush()
        except OSError:
            abort = abort or "close"
        if not recorded:
            self.record(resp.status)
        if abort == "reset":
            self.hard_reset()
        elif abort == "close":
            self.close_connection = True

    def drip(self, payload, start, rate, duration_ms):
        """Sends `start` bytes at once, then one byte every 1/rate s for up to `duration_ms`, then the rest."""
        self.write(payload[:start])
        self.wfile.flush()
        i, deadline = start, time.time() + duration_ms / 1000.0
        while i < len(payload) and time.time() < deadline:
            time.sleep(1.0 / max(1, rate))
            self.write(payload[i:i + 1])
            self.wfile.flush()
            i += 1
        self.write(payload[i:])

    def write(self, data):
        if data:
            self.wfile.write(data)
            self.sent_bytes += len(data)

    def hard_reset(self):
        """Closes the socket with SO_LINGER 0 so the peer sees a TCP RST, not a FIN."""
        import io

        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        for f in (self.wfile, self.rfile):
            try:
                f.close()
            except Exception:
                pass
        self.connection.close()
        self.wfile, self.rfile = io.BytesIO(), io.BytesIO()
        self.close_connection = True

    def record(self, status, pending=0):
        """Logs the request; `pending` body bytes are still to be sent."""
        headers = {}
        for k, v in self.headers.items():
            k = k.lower()
            if k == "authorization":
                v = "<redacted:present>"
            headers[k] = headers[k] + ", " + v if k in headers else v
        rec = {
            "t": time.time(),
            "listener": self.listener,
            "method": self.command,
            "path": self.path,
            "headers": headers,
            "status": status,
            "bytes": self.sent_bytes + pending,
        }
        if "range" in headers:
            rec["range"] = headers["range"]
        if self.fault:
            rec["fault"] = self.fault
        STATE.log(rec)


# --------------------------------------------------------------------------------------------------
# Hostile packs: a protocol v2 fetch response rewritten (the pack's count, extra objects)
# --------------------------------------------------------------------------------------------------

def rewrite_json_fields(body, fields):
    """The `json_fields` fault: each dotted path ("object.type", "verification.reason", "tree.mode") set to its value
    in the JSON body, in every element of a list on the way (a list body, a tree's entries); a path whose parent is
    missing or not an object is left alone."""
    try:
        doc = json.loads(body)
    except ValueError:
        return body

    def set_field(node, keys, value):
        if isinstance(node, list):
            for item in node:
                set_field(item, keys, value)
        elif isinstance(node, dict):
            if len(keys) == 1:
                node[keys[0]] = value
            else:
                set_field(node.get(keys[0]), keys[1:], value)

    for path, value in fields.items():
        set_field(doc, path.split("."), value)
    return (json.dumps(doc, indent=2) + "\n").encode()


PACK_FAULTS = ("pack_object_count", "pack_extra_blobs", "pack_progress_bytes")


def pkt(payload):
    return b"%04x" % (len(payload) + 4) + payload


def pack_varint_header(kind, size):
    """A pack entry header: type and size (4 bits, then 7 bits per byte, little-endian)."""
    out = bytearray([(kind << 4) | (size & 0x0F)])
    size >>= 4
    while size:
        out[-1] |= 0x80
        out.append(size & 0x7F)
        size >>= 7
    return bytes(out)


def extra_blob(index, size):
    """Incompressible, deterministic content for the `index`th unrequested blob."""
    out, counter = bytearray(), 0
    while len(out) < size:
        out += hashlib.sha256(b"unrequested %d %d" % (index, counter)).digest()
        counter += 1
    return bytes(out[:size])


def rewrite_pack(pack, fault):
    """Applies the pack faults to a whole pack and gives it a valid trailer."""
    count = struct.unpack(">I", pack[8:12])[0]
    entries = pack[12:-20]
    extra = int(fault.get("pack_extra_blobs", 0))
    size = int(fault.get("extra_blob_size", 1000))
    for i in range(extra):
        data = extra_blob(i, size)
        entries += pack_varint_header(3, len(data)) + zlib.compress(data)
    count = int(fault.get("pack_object_count", count + extra))
    body = pack[:8] + struct.pack(">I", count & 0xFFFFFFFF) + entries
    return body + hashlib.sha1(body).digest()


def rewrite_fetch_response(body, fault):
    """Rewrites the pack inside a protocol v2 fetch response (side-band channel 1 of the packfile section)."""
    marker = pkt(b"packfile\n")
    at = body.find(marker)
    if at < 0:
        return body  # not a fetch response (ls-refs, an advertisement): left alone
    i, pack, progress = at + len(marker), bytearray(), []
    while i + 4 <= len(body):
        n = int(body[i:i + 4], 16)
        if n < 4:
            break  # the closing flush
        band, data = body[i + 4], body[i + 5:i + n]
        if band == 1:
            pack += data
        else:
            progress.append(body[i:i + n])
        i += n
    new = rewrite_pack(bytes(pack), fault)
    flood = int(fault.get("pack_progress_bytes", 0))
    for j in range(0, flood, 1000):
        progress.insert(0, pkt(b"\x02" + b"Counting objects: %d\r" % j + b" " * max(0, min(1000, flood - j) - 30)))
    out = bytearray(body[:at + len(marker)]) + b"".join(progress)
    for j in range(0, len(new), 65515):
        out += pkt(b"\x01" + new[j:j + 65515])
    return bytes(out) + b"0000"


def parse_range(header, size):
    """(start, end) inclusive, None when the header is unusable (serve 200), or 'unsatisfiable'."""
    m = re.match(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", header)
    if not m or (m.group(1) == "" and m.group(2) == ""):
        return None  # multiple ranges or junk: ignore the header, as allowed
    if m.group(1) == "":
        n = int(m.group(2))
        if n == 0 or size == 0:
            return "unsatisfiable"
        return max(0, size - n), size - 1
    start = int(m.group(1))
    if start >= size:
        return "unsatisfiable"
    end = int(m.group(2)) if m.group(2) else size - 1
    if end < start:
        return None  # invalid: ignore the header
    return start, min(end, size - 1)


class ApiHandler(Handler):
    listener = "api"


class RawHandler(Handler):
    listener = "raw"


class GitHandler(Handler):
    """Git's smart HTTP protocol at /{owner}/{repo}.git/..., by running `git http-backend` as a CGI program.

    The served repositories allow any SHA-1 in `want` and `--filter`, as GitHub does (set through GIT_CONFIG_*
    for the CGI, never written into the repository). Private repositories want the token, as
    `Authorization: Bearer T` or Basic with the token as the password; otherwise 401 with a Basic challenge.
    """

    listener = "git"
    SERVICE = re.compile(r"^/([^/]+)/([^/]+?)(?:\.git)?(/.*)$")
    CGI_CONFIG = [
        ("uploadpack.allowAnySHA1InWant", "true"),
        ("uploadpack.allowFilter", "true"),
        ("safe.directory", "*"),
    ]

    def read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def dispatch(self, method):
        body = self.read_body()
        self.begin(method, body)
        try:
            resp = self.fault_response() or self.git(method, body)
        except Exception as e:
            sys.stderr.write("fake_github: git %s %s: %r\n" % (method, self.path, e))
            resp = Response(500, "Server Error\n", content_type="text/plain; charset=utf-8")
        if method == "HEAD":
            resp.no_body = True
        self.send(resp, method)

    def git_token(self):
        """The token presented (Bearer / token, or the password of Basic), None when none was."""
        auth = self.header("Authorization")
        if not auth:
            return None
        scheme, _, value = auth.strip().partition(" ")
        if scheme.lower() in ("bearer", "token"):
            return value.strip()
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(value.strip()).decode().partition(":")
            except Exception:
                return ""
            return password or user
        return ""

    def git(self, method, body):
        text = lambda status, msg, headers=None: Response(status, msg, "text/plain; charset=utf-8", headers)
        parsed = urllib.parse.urlsplit(self.path)
        m = self.SERVICE.match(urllib.parse.unquote(parsed.path))
        repo = STATE.repos.get(("%s/%s" % (m.group(1), m.group(2))).lower()) if m else None
        if repo is None:
            return text(404, "Repository not found.\n")
        token = self.git_token()
        valid = token is not None and (STATE.token is None or token == STATE.token)
        if (token is not None and not valid) or (repo.private and not valid):
            return text(401, "Authentication required.\n", {"WWW-Authenticate": 'Basic realm="GitHub"'})
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/"),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_PROJECT_ROOT": repo.path,
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": m.group(3),
            "QUERY_STRING": parsed.query,
            "REQUEST_METHOD": method,
            "REMOTE_ADDR": self.client_address[0],
            "CONTENT_TYPE": self.headers.get("Content-Type") or "",
            "GIT_CONFIG_COUNT": str(len(self.CGI_CONFIG)),
        }
        for i, (k, v) in enumerate(self.CGI_CONFIG):
            env["GIT_CONFIG_KEY_%d" % i] = k
            env["GIT_CONFIG_VALUE_%d" % i] = v
        if method == "POST":
            env["CONTENT_LENGTH"] = str(len(body))
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers.get("Git-Protocol")
        if self.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = self.headers.get("Content-Encoding")
        out = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True, timeout=120)
        head, sep, payload = out.stdout.partition(b"\r\n\r\n")
        if not sep:
            head, sep, payload = out.stdout.partition(b"\n\n")
        if not sep:
            sys.stderr.write("fake_github: git http-backend: %s\n" % out.stderr.decode(errors="replace"))
            return text(500, "git http-backend failed\n")
        status, headers, ctype = 200, {}, None
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            name, value = name.strip(), value.strip()
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name.lower() == "content-type":
                ctype = value
            elif name:
                headers[name] = value
        return Response(status, payload, content_type=ctype, headers=headers)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def main():
    global STATE
    # Parents such as Foundation's Process (from a test runner thread) may hand us a blocked signal mask, which
    # exec preserves: SIGTERM would stay pending forever. Unblock what we handle.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    p = argparse.ArgumentParser(description="GitHub-shaped REST + raw test server backed by local git repos")
    p.add_argument("--repo", action="append", default=[], help="OWNER/NAME=/path/to/repo (repeatable)")
    p.add_argument("--log", help="append one JSON line per request to this file")
    p.add_argument("--faults", help="JSON fault rules, re-read when its mtime changes")
    p.add_argument("--truncate-tree-over", type=int, default=None)
    p.add_argument("--private", action="append", default=[], help="OWNER/NAME served only with the token")
    p.add_argument("--token", default=None, help="the one valid token (default: any token is valid)")
    p.add_argument("--rate-limit", type=int, default=None, help="override the 60/5000 core limit")
    args = p.parse_args()
    STATE = State(args)

    api = Server(("127.0.0.1", 0), ApiHandler)
    raw = Server(("127.0.0.1", 0), RawHandler)
    git = Server(("127.0.0.1", 0), GitHandler)
    STATE.api_base = "http://127.0.0.1:%d" % api.server_address[1]
    STATE.raw_base = "http://127.0.0.1:%d" % raw.server_address[1]
    git_base = "http://127.0.0.1:%d" % git.server_address[1]
    servers = (api, raw, git)
    threads = [threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True) for s in servers]
    for t in threads:
        t.start()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    sys.stdout.write(json.dumps({"api": STATE.api_base, "raw": STATE.raw_base, "git": git_base}) + "\n")
    sys.stdout.flush()
    while not stop.wait(0.5):
        pass
    for s in servers:
        s.shutdown()
        s.server_close()
    for repo in STATE.repos.values():
        repo.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
