"""Summaries, target checks, Markdown tables and charts from the raw runs of a benchmark."""
import os
import statistics

MIB = 1 << 20


def summarize(cell, link):
    """Add a `summary` to each tool of one scenario × link cell: medians, ratios to the best peer and to the
    physical limit: the fewest bytes down any tool of the cell needed ÷ link rate + the tool's round trips × RTT."""
    for tool in cell["tools"].values():
        runs = [r for r in tool.get("runs", []) if r["ok"]]
        if not runs:
            continue
        med = lambda k: statistics.median(r[k] for r in runs)
        walls = [r["wall"] for r in runs]
        s = dict(wall=med("wall"), wall_min=min(walls), wall_max=max(walls), bytes_down=med("bytes_down"),
                 bytes_up=med("bytes_up"), requests=med("requests"), connections=med("connections"),
                 rss_mib=max(r["rss_kib"] for r in runs) / 1024, cpu=med("cpu"), failed=len(tool["runs"]) - len(runs))
        if "remaining" in runs[0]:
            s["rerun_over_remaining"] = statistics.median(r["bytes_down"] / r["remaining"] for r in runs)
        tool["summary"] = s
    done = [t for t in cell["tools"].values() if "summary" in t]
    if link["rate"] and done:
        fewest = min(t["summary"]["bytes_down"] for t in done)
        for t in done:
            t["summary"]["limit"] = fewest / link["rate"] + t["rtts"] * link["rtt"]
            t["summary"]["over_limit"] = t["summary"]["wall"] / t["summary"]["limit"]
    peers = {n: t["summary"] for n, t in cell["tools"].items() if "summary" in t and not n.startswith("smart-sync")}
    if peers:
        best_time = min(peers.items(), key=lambda kv: kv[1]["wall"])
        best_bytes = min(peers.items(), key=lambda kv: kv[1]["bytes_down"])
        cell["best_peer"], cell["fewest_bytes_peer"] = best_time[0], best_bytes[0]
        for t in cell["tools"].values():
            if "summary" in t:
                t["summary"]["over_best_peer"] = t["summary"]["wall"] / best_time[1]["wall"]
                t["summary"]["bytes_over_peer"] = t["summary"]["bytes_down"] / max(1, best_bytes[1]["bytes_down"])
    cell["targets"] = targets(cell)


def targets(cell):
    """The issue's targets for each smart-sync row of a cell: (text, met) pairs."""
    out = []
    tools = {n: t["summary"] for n, t in cell["tools"].items() if "summary" in t}
    for name, s in tools.items():
        if not name.startswith("smart-sync"):
            continue
        kind = cell["kind"]
        if kind == "noop":
            moved = s["bytes_down"] + s["bytes_up"]
            out.append((f"{name}: no-op in one request, <= 2 KB: {s['requests']:.0f} requests, {moved:,.0f} B",
                        s["requests"] <= 1 and moved <= 2048))
        if kind == "update" and "git-fetch" in tools:
            g = tools["git-fetch"]
            out.append((f"{name}: bytes <= 1.2 x git fetch --depth 1: {s['bytes_down'] / g['bytes_down']:.2f} x",
                        s["bytes_down"] <= 1.2 * g["bytes_down"]))
            out.append((f"{name}: time <= 1.2 x git fetch --depth 1: {s['wall'] / g['wall']:.2f} x",
                        s["wall"] <= 1.2 * g["wall"]))
        if kind == "cold" and "git-clone" in tools:
            g = tools["git-clone"]
            out.append((f"{name}: time <= 1.1 x git clone --depth 1: {s['wall'] / g['wall']:.2f} x",
                        s["wall"] <= 1.1 * g["wall"]))
        if kind == "resume" and "rerun_over_remaining" in s:
            r = s["rerun_over_remaining"]
            out.append((f"{name}: rerun bytes <= 1.02 x remaining: {r:.4f} x", r <= 1.02))
        for peer in ("aria2c", "curl-parallel", "aria2c-resume", "curl-resume"):
            if peer in tools:
                out.append((f"{name}: faster than {peer}: {s['wall'] / tools[peer]['wall']:.2f} x its time",
                            s["wall"] < tools[peer]["wall"]))
        out.append((f"{name}: peak RSS <= 64 MiB: {s['rss_mib']:.1f} MiB", s["rss_mib"] <= 64))
    return out


def _size(n):
    if n >= MIB:
        return f"{n / MIB:.2f} MiB"
    if n >= 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n:.0f} B"


def markdown(cell, link):
    """One scenario × link: a heading, the table, the targets."""
    lines = [f"### {cell['scenario']} — {link['label']}", "", cell["description"], ""]
    head = ["tool", "median s", "min s", "max s", "down", "up", "requests", "conns", "peak RSS", "CPU s",
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
                     f"{_size(s['bytes_down'])} | {_size(s['bytes_up'])} | {s['requests']:.0f} | "
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
