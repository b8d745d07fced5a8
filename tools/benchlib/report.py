"""Summaries, target checks, Markdown tables and charts from the raw runs of a benchmark."""
import os
import statistics

from . import fleet

MIB = 1 << 20
# Peers that do not use the network (git status on a checkout): compared in the targets, not as "best peer".
LOCAL_PEERS = ("git-status",)


def summarize(cell, link):
    """Fleet cells: see benchlib/fleet.py. Other cells: Add a `summary` to each tool of one scenario × link cell: medians, ratios to the best peer and to the
    physical limit: the fewest bytes down any tool of the cell needed ÷ link rate + the tool's round trips × RTT."""
    if cell["kind"] == "fleet":
        return fleet.summarize(cell)
    for tool in cell["tools"].values():
        runs = [r for r in tool.get("runs", []) if r["ok"]]
        if not runs:
            continue
        med = lambda k: statistics.median(r[k] for r in runs)
        med_or = lambda k: statistics.median(r.get(k, 0) for r in runs)
        walls = [r["wall"] for r in runs]
        s = dict(wall=med("wall"), wall_min=min(walls), wall_max=max(walls), bytes_down=med("bytes_down"),
                 bytes_up=med("bytes_up"), requests=med("requests"), connections=med("connections"),
                 rss_mib=max(r["rss_kib"] for r in runs) / 1024, cpu=med("cpu"), failed=len(tool["runs"]) - len(runs),
                 http=runs[-1].get("http"), http_down=med_or("http_down"), http_up=med_or("http_up"))
        if "remaining" in runs[0]:
            key = "http_down" if cell.get("tls") else "bytes_down"  # over TLS: HTTP bytes, not the handshake
            s["rerun_over_remaining"] = statistics.median(r[key] / r["remaining"] for r in runs)
        tool["summary"] = s
    done = [t for n, t in cell["tools"].items() if "summary" in t and n not in LOCAL_PEERS]
    if link["rate"] and done:
        fewest = min(t["summary"]["bytes_down"] for t in done)
        for t in done:
            t["summary"]["limit"] = fewest / link["rate"] + t["rtts"] * link["rtt"]
            t["summary"]["over_limit"] = t["summary"]["wall"] / t["summary"]["limit"]
    peers = {n: t["summary"] for n, t in cell["tools"].items()
             if "summary" in t and not n.startswith("smart-sync") and n not in LOCAL_PEERS}
    if peers:
        best_time = min(peers.items(), key=lambda kv: kv[1]["wall"])
        best_bytes = min(peers.items(), key=lambda kv: kv[1]["bytes_down"])
        cell["best_peer"], cell["fewest_bytes_peer"] = best_time[0], best_bytes[0]
        for t in cell["tools"].values():
            if "summary" in t:
                t["summary"]["over_best_peer"] = t["summary"]["wall"] / best_time[1]["wall"]
                t["summary"]["bytes_over_peer"] = t["summary"]["bytes_down"] / max(1, best_bytes[1]["bytes_down"])
    cell["targets"] = targets(cell)


# Issue 15's ratios (time, same run) and memory bounds; issue 4's 64 MiB for the repositories up to ~10,000 files.
UPDATE_OVER_GIT, NOOP_OVER_STATUS, COLD_OVER_CLONE = 1.2, 1.5, 1.1
RSS_SMALL_MIB, RSS_LARGE_MB, SMALL_FILES = 64, 128, 10_004
# "Nothing slower than today": a build's median against the baseline build's (`--bin LABEL=...`) in the same cell.
NOT_SLOWER = 1.0


def noop_bytes(cell, s):
    """What the no-op target counts: bytes on the link both ways; over TLS, the HTTP bytes nginx counted (headers
    and bodies both ways), since the handshake alone (certificates) is over 2 KB and not the client's to shrink."""
    if cell.get("tls"):
        return s.get("http_down", 0) + s.get("http_up", 0)
    return s["bytes_down"] + s["bytes_up"]


def _paired(cell, name, peer):
    """The largest ratio of `name`'s wall time to `peer`'s over repetitions both finished (the same rep index)."""
    runs = lambda n: {r.get("rep", i): r for i, r in enumerate(cell["tools"][n]["runs"]) if r["ok"]}
    mine, theirs = runs(name), runs(peer)
    pairs = [mine[k]["wall"] / theirs[k]["wall"] for k in mine if k in theirs and theirs[k]["wall"] > 0]
    return max(pairs) if pairs else None


def targets(cell):
    """The issues' targets for each smart-sync row of a cell: (text, met) pairs."""
    out = []
    tools = {n: t["summary"] for n, t in cell["tools"].items() if "summary" in t}
    for name, s in tools.items():
        if not name.startswith("smart-sync"):
            continue
        kind = cell["kind"]
        if kind == "noop":
            moved = noop_bytes(cell, s)
            out.append((f"{name}: no-op in one request, <= 2 KB{' of HTTP' if cell.get('tls') else ''}: "
                        f"{s['requests']:.0f} requests, {moved:,.0f} B", s["requests"] <= 1 and moved <= 2048))
            if "git-status" in tools:
                r = s["wall"] / tools["git-status"]["wall"]
                out.append((f"{name}: time <= {NOOP_OVER_STATUS} x git status: {r:.2f} x", r <= NOOP_OVER_STATUS))
        if kind == "update" and "git-fetch" in tools:
            g = tools["git-fetch"]
            out.append((f"{name}: bytes <= 1.2 x git fetch --depth 1: {s['bytes_down'] / g['bytes_down']:.2f} x",
                        s["bytes_down"] <= 1.2 * g["bytes_down"]))
            r = s["wall"] / g["wall"]
            out.append((f"{name}: time <= {UPDATE_OVER_GIT} x git fetch --depth 1 && git checkout: {r:.2f} x",
                        r <= UPDATE_OVER_GIT))
        if kind == "cold" and "git-clone" in tools:
            r, worst = s["wall"] / tools["git-clone"]["wall"], _paired(cell, name, "git-clone")
            out.append((f"{name}: time <= {COLD_OVER_CLONE} x git clone --depth 1: {r:.2f} x (median)",
                        r <= COLD_OVER_CLONE))
            if worst is not None:
                out.append((f"{name}: ... in every repetition: worst {worst:.2f} x", worst <= COLD_OVER_CLONE))
        if kind == "resume" and "rerun_over_remaining" in s:
            r = s["rerun_over_remaining"]
            what = "HTTP bytes" if cell.get("tls") else "bytes"
            out.append((f"{name}: rerun {what} <= 1.02 x remaining: {r:.4f} x", r <= 1.02))
        for peer in ("aria2c", "curl-parallel", "aria2c-resume", "curl-resume"):
            if peer in tools:
                out.append((f"{name}: faster than {peer}: {s['wall'] / tools[peer]['wall']:.2f} x its time",
                            s["wall"] < tools[peer]["wall"]))
        if cell.get("files_total", 0) > SMALL_FILES:
            mb = s["rss_mib"] * (1 << 20) / 1e6
            out.append((f"{name}: peak RSS <= {RSS_LARGE_MB} MB: {mb:.1f} MB", mb <= RSS_LARGE_MB))
        else:
            out.append((f"{name}: peak RSS <= {RSS_SMALL_MIB} MiB: {s['rss_mib']:.1f} MiB",
                        s["rss_mib"] <= RSS_SMALL_MIB))
        base, _, label = name.partition("@")
        if label and base in tools:
            r = tools[base]["wall"] / s["wall"]
            out.append((f"{base}: not slower than {name}: {r:.2f} x its time", r <= NOT_SLOWER))
    return out


def _http(s):
    """The HTTP versions nginx saw, most used first: "2", "1.1", "2 + 1.1"."""
    counts = s.get("http") or {}
    return " + ".join(p.replace("HTTP/", "").replace("2.0", "2") for p, _ in
                      sorted(counts.items(), key=lambda kv: -kv[1])) or "—"


def _size(n):
    if n >= MIB:
        return f"{n / MIB:.2f} MiB"
    if n >= 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n:.0f} B"


def markdown(cell, link):
    """One scenario × link: a heading, the table, the targets."""
    if cell["kind"] == "fleet":
        return fleet.markdown(cell)
    lines = [f"### {cell['scenario']} — {link['label']}", "", cell["description"], ""]
    if "load_start" in cell:
        fmt = lambda l: " / ".join(f"{x:.2f}" for x in l)
        lines += [f"{'TLS + HTTP/2 (test CA)' if cell.get('tls') else 'Plain HTTP/1.1'}; load average (1 / 5 / 15 "
                  f"min) {fmt(cell['load_start'])} at the start, {fmt(cell['load_end'])} at the end.", ""]
    head = ["tool", "median s", "min s", "max s", "down", "up", "requests", "HTTP", "conns", "peak RSS", "CPU s",
            "time ÷ best peer", "bytes ÷ fewest peer", "time ÷ limit (RTTs)"]
    lines += ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for name, t in cell["tools"].items():
        s = t.get("summary")
        if not s:
            lines.append(f"| {name} | {t.get('skipped') or 'failed'} |" + " |" * (len(head) - 2))
            continue
        limit = f"{s['over_limit']:.2f} ({t['rtts']})" if "over_limit" in s else f"— ({t['rtts']})"
        ratio = lambda k: f"{s[k]:.2f}" if k in s else "—"
        failed = f" ({s['failed']} failed)" if s["failed"] else ""
        lines.append(f"| {name}{failed} | {s['wall']:.3f} | {s['wall_min']:.3f} | {s['wall_max']:.3f} | "
                     f"{_size(s['bytes_down'])} | {_size(s['bytes_up'])} | {s['requests']:.0f} | {_http(s)} | "
                     f"{s['connections']:.0f} | {s['rss_mib']:.1f} MiB | {s['cpu']:.2f} | {ratio('over_best_peer')} | "
                     f"{ratio('bytes_over_peer')} | {limit} |")
    if cell.get("targets"):
        lines.append("")
        lines += [f"- {'met' if ok else '**not met**'}: {text}" for text, ok in cell["targets"]]
    return "\n".join(lines) + "\n"


def charts(cells, links, directory):
    """One PNG per scenario: median wall time per tool (min-max whiskers), one panel per link.
    Returns the files written, or None when matplotlib is missing."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    os.makedirs(directory, exist_ok=True)
    written = []
    cells = [c for c in cells if c["kind"] != "fleet"]  # a table of its own (benchlib/fleet.py), no chart
    for scenario in dict.fromkeys(c["scenario"] for c in cells):
        mine = [c for c in cells if c["scenario"] == scenario]
        fig, axes = plt.subplots(1, len(mine), figsize=(4.2 * len(mine), 2.8), squeeze=False)
        for ax, cell in zip(axes[0], mine):
            rows = [(n, t["summary"]) for n, t in cell["tools"].items() if "summary" in t]
            names = [n for n, _ in rows][::-1]
            med = [s["wall"] for _, s in rows][::-1]
            err = [[s["wall"] - s["wall_min"] for _, s in rows][::-1], [s["wall_max"] - s["wall"] for _, s in rows][::-1]]
            colors = ["tab:blue" if n.startswith("smart-sync") else "tab:gray" for n in names]
            ax.barh(names, med, xerr=err, color=colors)
            ax.set_title(links[cell["link"]]["label"], fontsize=9)
            ax.set_xlabel("wall time, s (median, min-max)", fontsize=8)
            ax.tick_params(labelsize=8)
        fig.suptitle(scenario, fontsize=10)
        fig.tight_layout()
        path = os.path.join(directory, f"{scenario}.png")
        fig.savefig(path, dpi=80)
        plt.close(fig)
        written.append(path)
    return written
