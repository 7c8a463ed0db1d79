#!/usr/bin/env python3
"""Plots bigbox figures: per command, the p50 time (ms, log scale) against the mailbox size, Keep and Dovecot lines.

Input: the TSV bench/compare.sh collects (`server  pair  key  value  unit` lines; the figures
`bigbox.n<N>.<CMD>.p50_ms`, medians over the runs). Output: a PNG (default bench/bigbox.png beside this script).
Needs matplotlib (Debian python3-matplotlib, or from PyPI).
"""
import argparse
import collections
import os
import re
import statistics
import sys

COMMANDS = ["STATUS", "SELECT", "FETCH_FLAGS", "UID_SEARCH", "SEARCH_HEADER", "CHANGEDSINCE", "STORE_DELETED", "EXPUNGE"]
TITLES = {
    "STATUS": "STATUS (MESSAGES UNSEEN UIDNEXT)",
    "SELECT": "SELECT",
    "FETCH_FLAGS": "FETCH 1:* (FLAGS)",
    "UID_SEARCH": "UID SEARCH UNSEEN",
    "SEARCH_HEADER": "UID SEARCH HEADER Message-ID",
    "CHANGEDSINCE": "UID FETCH 1:* (FLAGS) (CHANGEDSINCE m), 10 changed",
    "STORE_DELETED": "UID STORE a:b +FLAGS.SILENT (\\Deleted), 10,000",
    "EXPUNGE": "EXPUNGE of 10,000",
}
SERVERS = [("keep", "Keep", "tab:blue"), ("dovecot", "Dovecot", "tab:orange")]
KEY = re.compile(r"^bigbox\.n(\d+)\.([A-Z_]+)\.p50_ms$")


def read(tsv):
    """{(server, command): {size: median p50 ms}}."""
    values = collections.defaultdict(list)
    for line in open(tsv):
        parts = line.rstrip("\n").split("\t")
        if len(parts) != 5:
            continue
        server, _pair, key, value, _unit = parts
        m = KEY.match(key)
        if not m:
            continue
        try:
            values[(server, m.group(2), int(m.group(1)))].append(float(value))
        except ValueError:
            continue
    series = collections.defaultdict(dict)
    for (server, command, size), vs in values.items():
        series[(server, command)][size] = statistics.median(vs)
    return series


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tsv")
    ap.add_argument("png", nargs="?", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "bigbox.png"))
    ap.add_argument("--title", default="bigbox: p50 per command against mailbox size")
    a = ap.parse_args()

    series = read(a.tsv)
    commands = [c for c in COMMANDS if any((s, c) in series for s, _, _ in SERVERS)]
    if not commands:
        print(f"plot_bigbox: no bigbox.n<N>.*.p50_ms figures in {a.tsv}; nothing plotted")
        return 0

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    cols = 4 if len(commands) > 4 else len(commands)
    rows = (len(commands) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
    sizes = sorted({n for points in series.values() for n in points})
    label = FuncFormatter(lambda v, _: f"{v / 1e6:g}M" if v >= 1e6 else f"{v / 1e3:g}k" if v >= 1e3 else f"{v:g}")
    for ax, command in zip(axes.flat, commands):
        shown = []
        for server, name, color in SERVERS:
            points = series.get((server, command))
            if not points:
                continue
            xs = sorted(points)
            ys = [max(points[x], 0.001) for x in xs]  # log scale: the histogram's floor is 1 µs
            ax.plot(xs, ys, marker="o", color=color, label=name)
            shown += ys
            for x, y in zip(xs, ys):
                ax.annotate(f"{y:,.0f}" if y >= 100 else f"{y:.3g}", (x, y), textcoords="offset points", xytext=(0, 5), ha="center", fontsize=7,
                            color=color)
        ax.set_title(TITLES.get(command, command), fontsize=9)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(sizes)
        ax.xaxis.set_major_formatter(label)
        ax.xaxis.set_minor_formatter(FuncFormatter(lambda *_: ""))
        ax.set_xlabel("messages in the mailbox", fontsize=8)
        ax.set_ylabel("p50 ms", fontsize=8)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}" if f"{v:g}"[0] in "25" else ""))
        lo, hi = min(shown), max(shown)
        if hi / lo < 20:  # at least a decade and a bit, so that labelled ticks show
            mid = (lo * hi) ** 0.5
            lo, hi = mid / 20 ** 0.5, mid * 20 ** 0.5
        ax.set_ylim(lo / 1.4, hi * 1.4)
        ax.tick_params(axis="y", which="both", labelsize=7)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(commands):]:
        ax.axis("off")
    fig.suptitle(a.title)
    fig.tight_layout()
    fig.savefig(a.png, dpi=110)
    print(f"plot_bigbox: wrote {a.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
