#!/usr/bin/env python3
"""Medians of bench/compare.sh runs, Keep/Dovecot ratios, and the results section of BENCHMARKS.md.

Input: a TSV of `server  pair  key  value  unit` lines. Output: a table on stdout, and BENCHMARKS.md with the text
between `<!-- results:begin -->` and `<!-- results:end -->` replaced (the rest of the file is left as written).
"""
import argparse
import collections
import datetime
import re
import statistics

LOWER_IS_BETTER = {"ms", "MiB", "KiB", "count", "fraction", "x", "s", "us/msg"}

# kind: "ratio" compares Keep/Dovecot, "abs" Keep's own value, "floor" Keep/floor (Dovecot/floor shown beside it),
# "reset" the flooder resets of a phase (key `PREFIX.kK`): every flooder connection ended by the server
# (`never_reset` = 0) and the slowest after less than `threshold` ms (`time_to_reset_max_ms`), "growth" a server's
# own figure `key` over its figure `base` (the same command at another mailbox size). Optional targets get a row only
# when Keep or Dovecot measured them.
Target = collections.namedtuple("Target", "label key kind op threshold optional base", defaults=(False, None))
TARGETS = [
    Target("mix at 10 clients ≥ 1.5× Dovecot", "mix10.total.ops_per_s", "ratio", ">=", 1.5),
    Target("mix at 50 clients ≥ 1.5× Dovecot", "mix50.total.ops_per_s", "ratio", ">=", 1.5),
    Target("mix at 10 clients: server CPU per 1,000 commands ≤ Dovecot's", "mix10.cpu_ms_per_1000", "ratio", "<=", 1.0),
    Target("mix at 50 clients: server CPU per 1,000 commands ≤ Dovecot's", "mix50.cpu_ms_per_1000", "ratio", "<=", 1.0),
    Target("idle ≤ 50 KiB per connection (1,000)", "idle.c1000.kib_per_connection", "abs", "<=", 50),
    Target("idle ≤ 50 KiB per connection (10,000)", "idle.c10000.kib_per_connection", "abs", "<=", 50),
    Target("lmtp deliveries/s ≥ Dovecot", "lmtp.DELIVERY.ops_per_s", "ratio", ">=", 1.0),
    Target("bigbox SELECT < 50 ms (one size)", "bigbox.SELECT.p50_ms", "abs", "<", 50, True),
    Target("pipelined NOOPs (10 connections × 50 per write) ≥ 0.5 of the floor", "pipe50.NOOP.ops_per_s", "floor", ">=", 0.5),
    Target("50 flooders: new greeting+LOGIN < 50 ms (p50)", "flood.k50.login_p50_ms", "abs", "<", 50),
    Target("50 flooders: new greeting+LOGIN < 50 ms (max)", "flood.k50.login_max_ms", "abs", "<", 50),
]
# Flooders before login (flood.*) and logged in (flood_login.*), at every count measured.
for prefix, kind in [("flood", "before login"), ("flood_login", "logged in")]:
    for k in [1, 10, 50, 200]:
        who = f"{k} flooder{'' if k == 1 else 's'} {kind}"
        TARGETS += [
            Target(f"{who}: reset within 2 s", f"{prefix}.k{k}", "reset", "<", 2000, True),
            Target(f"{who}: client p99 ≤ 1.5× unflooded", f"{prefix}.k{k}.client_p99_ratio", "abs", "<=", 1.5, True),
            Target(f"{who}: server memory growth < 20 MB", f"{prefix}.k{k}.rss_growth_mb", "abs", "<", 20, True),
        ]
TARGETS += [
    Target("50 flooders, flood ban off (pending rule alone): client p99 ≤ 1.5× unflooded", "flood_noban.k50.client_p99_ratio", "abs", "<=", 1.5),
    Target("50 flooders, flood ban off: new greeting+LOGIN < 50 ms (p50)", "flood_noban.k50.login_p50_ms", "abs", "<", 50),
]
# Issue 8: every hostile case, a concurrent legit client's p99 (reads and greeting+LOGIN, the worse) under 1 s and the
# server's memory growth under 64 MB; no acknowledged message lost.
HOSTILE_CASES = ["partial-line", "many-literals", "address-headers", "huge-header", "rfc2231-bomb", "bad-sasl", "unauth-hold"]
TARGETS += [Target(f"hostile {c}: legit p99 < 1 s", f"hostile.{c}.legit_p99_ms", "abs", "<", 1000) for c in HOSTILE_CASES]
TARGETS += [Target(f"hostile {c}: memory growth < 64 MB", f"hostile.{c}.mem_growth_mb", "abs", "<", 64) for c in HOSTILE_CASES]
TARGETS += [Target("hostile: acknowledged messages lost = 0", "hostile.lost_messages", "abs", "<=", 0)]
# Issue 14, bigbox at 10,000 / 100,000 / 1,000,000 messages (rows when those sizes were measured).
BIG, SMALL, MID = "bigbox.n1000000", "bigbox.n10000", "bigbox.n100000"
TARGETS += [
    Target(f"bigbox {c} flat: p50 at 1M ≤ 2× at 10k", f"{BIG}.{c}.p50_ms", "growth", "<=", 2, True, f"{SMALL}.{c}.p50_ms")
    for c in ["SELECT", "STATUS"]
]
TARGETS += [Target("bigbox SELECT ≤ 50 ms at 1M", f"{BIG}.SELECT.p50_ms", "abs", "<=", 50, True)]
for c in ["FETCH_FLAGS", "UID_SEARCH", "SEARCH_HEADER"]:
    TARGETS += [
        Target(f"bigbox {c} per message: 1M ≤ 1.2× 10k", f"{BIG}.{c}.us_per_msg", "growth", "<=", 1.2, True, f"{SMALL}.{c}.us_per_msg"),
        Target(f"bigbox {c} per message ≤ Dovecot at 100k", f"{MID}.{c}.us_per_msg", "ratio", "<=", 1.0, True),
    ]
TARGETS += [
    Target("bigbox CHANGEDSINCE (10 changed) ≤ 5 ms at 1M", f"{BIG}.CHANGEDSINCE.p50_ms", "abs", "<=", 5, True),
    Target("bigbox EXPUNGE of 10,000 ≤ 1 s at 1M", f"{BIG}.EXPUNGE.p50_ms", "abs", "<=", 1000, True),
]
OPS = {"<": lambda v, t: v < t, "<=": lambda v, t: v <= t, ">=": lambda v, t: v >= t}


def fmt(v):
    if v is None:
        return "—"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def fmt_count(v):
    """A count (a median of counts may end in .5)."""
    if v is None:
        return "—"
    return f"{v:,.0f}" if v == int(v) else f"{v:,.1f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tsv")
    ap.add_argument("benchmarks_md")
    ap.add_argument("--machine", default="?")
    ap.add_argument("--dovecot", default="?")
    ap.add_argument("--keep-commit", default="?")
    ap.add_argument("--pairs", default="?")
    ap.add_argument("--mix-seconds", default="?")
    ap.add_argument("--idle-counts", default="?")
    ap.add_argument("--bigbox-messages", default="?")
    a = ap.parse_args()

    values = collections.defaultdict(list)
    units = {}
    order = []
    for line in open(a.tsv):
        parts = line.rstrip("\n").split("\t")
        if len(parts) != 5:
            continue
        server, _pair, key, value, unit = parts
        try:
            v = float(value)
        except ValueError:
            continue
        values[(server, key)].append(v)
        units[key] = unit
        if key not in order:
            order.append(key)

    def med(server, key):
        vs = values.get((server, key))
        return statistics.median(vs) if vs else None

    def runs(server, key):
        return len(values.get((server, key), []))

    rows = []
    for key in order:
        if key.endswith(".errors") or key.endswith(".messages"):
            pass
        k, d, f = med("keep", key), med("dovecot", key), med("floor", key)
        ratio = (k / d) if (k is not None and d not in (None, 0)) else None
        rows.append((key, units[key], k, d, ratio, f, runs("keep", key), runs("dovecot", key)))

    header = "| figure | unit | Keep | Dovecot | Keep/Dovecot | floor | runs K/D |"
    lines = [header, "|---|---|---:|---:|---:|---:|---:|"]
    for key, unit, k, d, ratio, f, rk, rd in rows:
        better = "lower is better" if unit in LOWER_IS_BETTER else "higher is better"
        lines.append(f"| `{key}` | {unit} ({better}) | {fmt(k)} | {fmt(d)} | {fmt(ratio)} | {fmt(f)} | {rk}/{rd} |")

    def target_row(t):
        """The table row of one target, None for an optional one nobody measured."""
        if t.kind == "reset":
            servers = ("keep", "dovecot")
            slowest = {server: med(server, t.key + ".time_to_reset_max_ms") for server in servers}
            never = {server: med(server, t.key + ".never_reset") for server in servers}
            shown = {server: ", ".join(([] if slowest[server] is None else [f"max {fmt(slowest[server])} ms"])
                                       + ([] if never[server] is None else [f"{fmt_count(never[server])} never reset"])) or "—"
                     for server in servers}
            if t.optional and all(v == "—" for v in shown.values()):
                return None
            k_max, k_never = slowest["keep"], never["keep"]
            if k_never is None or (k_max is None and k_never == 0):
                met = "not measured"
            else:
                ok = k_max is not None and OPS[t.op](k_max, t.threshold) and k_never == 0
                met = ("yes" if ok else "**no**") + f" (max {fmt(k_max)} ms, {fmt_count(k_never)} never reset)"
            figure = f"`{t.key}.time_to_reset_max_ms`, `never_reset`"
            return f"| {t.label} | {figure} | {shown['keep']} | {shown['dovecot']} | {met} |"
        if t.kind == "growth":
            growth = {}
            for server in ("keep", "dovecot"):
                hi, lo = med(server, t.key), med(server, t.base)
                growth[server] = (hi / lo) if (hi is not None and lo) else None
            if t.optional and growth["keep"] is None and growth["dovecot"] is None:
                return None
            shown = {server: "—" if g is None else f"{fmt(g)}× ({fmt(med(server, t.key))} / {fmt(med(server, t.base))})"
                     for server, g in growth.items()}
            g = growth["keep"]
            met = "not measured" if g is None else ("yes" if OPS[t.op](g, t.threshold) else "**no**") + f" ({fmt(g)}×)"
            return f"| {t.label} | `{t.key}` / `{t.base}` | {shown['keep']} | {shown['dovecot']} | {met} |"
        k, d, f = med("keep", t.key), med("dovecot", t.key), med("floor", t.key)
        if t.optional and k is None and d is None:
            return None
        shown = {"keep": fmt(k), "dovecot": fmt(d)}
        value = k
        if t.kind == "ratio":
            value = (k / d) if (k is not None and d) else None
        elif t.kind == "floor":
            value = (k / f) if (k is not None and f) else None
            for server, v in (("keep", k), ("dovecot", d)):
                if v is not None and f:
                    shown[server] += f" ({fmt(v / f)}× floor)"
        if value is None:
            met = "not measured"
        else:
            met = ("yes" if OPS[t.op](value, t.threshold) else "**no**") + f" ({fmt(value)}{'' if t.kind == 'abs' else '×'})"
        return f"| {t.label} | `{t.key}` | {shown['keep']} | {shown['dovecot']} | {met} |"

    target_lines = ["| target | figure | Keep | Dovecot | met? |", "|---|---|---:|---:|---|"]
    target_lines += [row for row in map(target_row, TARGETS) if row is not None]

    table = "\n".join(lines)
    targets = "\n".join(target_lines)
    print(table)
    print()
    print(targets)

    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    section = f"""<!-- results:begin -->
## Latest figures

Written by `bench/compare.sh` on {now}: Keep at commit `{a.keep_commit}` vs {a.dovecot}, {a.pairs} alternating pairs
(idle and bigbox: see their pair count in the method), medians over the runs. Mix runs {a.mix_seconds} s per run; idle at
{a.idle_counts} connections; bigbox with {a.bigbox_messages} messages. Machine: {a.machine}.

### Targets

{targets}

### All figures

{table}
<!-- results:end -->"""
    try:
        text = open(a.benchmarks_md).read()
    except FileNotFoundError:
        text = "# Benchmarks\n\n<!-- results:begin -->\n<!-- results:end -->\n"
    if "<!-- results:begin -->" in text:
        text = re.sub(r"<!-- results:begin -->.*?<!-- results:end -->", lambda _: section, text, flags=re.S)
    else:
        text += "\n" + section + "\n"
    open(a.benchmarks_md, "w").write(text)


if __name__ == "__main__":
    main()
