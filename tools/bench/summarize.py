#!/usr/bin/env python3
"""Medians and min-max of monochat-bench JSON lines, one Markdown table per workload.

    tools/bench/summarize.py RESULTS.jsonl [--max-other PCT]

Rows are grouped by label (run_cases.sh uses the case name). --max-other leaves out runs during
which other processes used more than PCT % of a core (machine_load.other_pct)."""
import json
import statistics
import sys


def get(d, path):
    for k in path.split("."):
        if not isinstance(d, dict) or k not in d or d[k] is None:
            return None
        d = d[k]
    return d


def cell(runs, path, fmt="{:,.1f}", scale=1.0):
    vals = [get(r, path) for r in runs]
    vals = [v * scale for v in vals if isinstance(v, (int, float))]
    if not vals:
        return "-"
    med = statistics.median(vals)
    if len(vals) == 1 or min(vals) == max(vals):
        return fmt.format(med)
    return f"{fmt.format(med)} ({fmt.format(min(vals))}-{fmt.format(max(vals))})"


def total(runs, path):
    return sum(get(r, path) or 0 for r in runs)


COLUMNS = {
    "fanout": [
        ("delivered msg/s", "msg.delivered_per_sec", "{:,.0f}", 1),
        ("sends/s", "msg.sends_per_sec", "{:,.0f}", 1),
        ("delivery p50 ms", "msg.delivery_ms.p50", "{:,.1f}", 1),
        ("delivery p99 ms", "msg.delivery_ms.p99", "{:,.1f}", 1),
        ("delivery max ms", "msg.delivery_ms.max", "{:,.1f}", 1),
        ("ack p50 ms", "msg.ack_ms.p50", "{:,.1f}", 1),
        ("ack p99 ms", "msg.ack_ms.p99", "{:,.1f}", 1),
        ("server us/delivery", "server.cpu_us_per_delivery", "{:,.2f}", 1),
        ("server CPU %", "server.cpu_pct", "{:,.0f}", 1),
        ("server peak RSS MB", "server.peak_rss_kb", "{:,.1f}", 1 / 1024),
        ("generator CPU %", "gen.cpu_pct", "{:,.0f}", 1),
        ("other load %", "machine_load.other_pct", "{:,.0f}", 1),
    ],
    "idle": [
        ("connected", "connect.ok", "{:,.0f}", 1),
        ("connects/s", "connect.per_sec", "{:,.0f}", 1),
        ("server RSS before MB", "idle.server_rss_before_kb", "{:,.1f}", 1 / 1024),
        ("server RSS with conns MB", "idle.server_rss_kb", "{:,.1f}", 1 / 1024),
        ("RSS per conn KB", "idle.per_conn_kb", "{:,.2f}", 1),
        ("server CPU us/connect", "idle.server_cpu_us_per_connect", "{:,.0f}", 1),
        ("generator RSS MB", "gen.rss_kb", "{:,.1f}", 1 / 1024),
    ],
    "reconnect": [
        ("all open s", "reconnect.all_open_secs", "{:,.2f}", 1),
        ("all synced s", "reconnect.all_synced_secs", "{:,.2f}", 1),
        ("per client p50 ms", "reconnect.ready_ms.p50", "{:,.0f}", 1),
        ("per client p99 ms", "reconnect.ready_ms.p99", "{:,.0f}", 1),
        ("server CPU us/client", "server.cpu_us_per_reconnect", "{:,.0f}", 1),
        ("server peak RSS MB", "server.peak_rss_kb", "{:,.1f}", 1 / 1024),
    ],
    "search": [
        ("stored msgs", "search.seeded", "{:,.0f}", 1),
        ("store msg/s", "search.seed_per_sec", "{:,.0f}", 1),
        ("searchable after s", "search.index_lag_secs", "{:,.2f}", 1),
        ("queries/s", "search.qps", "{:,.0f}", 1),
        ("query p50 ms", "search.latency_ms.p50", "{:,.1f}", 1),
        ("query p99 ms", "search.latency_ms.p99", "{:,.1f}", 1),
        ("server us/query", "search.server_cpu_us_per_query", "{:,.0f}", 1),
    ],
}
COLUMNS["pairs"] = COLUMNS["fanout"]


def main():
    args = sys.argv[1:]
    max_other = None
    if "--max-other" in args:
        i = args.index("--max-other")
        max_other = float(args[i + 1])
        del args[i : i + 2]
    runs = [json.loads(l) for f in args for l in open(f) if l.strip()]
    by_label = {}
    for r in runs:
        other = get(r, "machine_load.other_pct")
        if max_other is not None and other is not None and other > max_other:
            continue
        by_label.setdefault((r["workload"], r["label"]), []).append(r)
    for workload in ["fanout", "pairs", "idle", "reconnect", "search"]:
        labels = [(w, l) for (w, l) in by_label if w == workload]
        if not labels:
            continue
        cols = COLUMNS[workload]
        print(f"\n### {workload}\n")
        print("| case | runs | lost/dup (all runs) | " + " | ".join(c[0] for c in cols) + " |")
        print("|---|---|---|" + "---|" * len(cols))
        for key in labels:
            rs = by_label[key]
            lost = total(rs, "msg.lost") + total(rs, "reconnect.lost")
            dup = total(rs, "msg.dup") + total(rs, "reconnect.dup")
            cells = [cell(rs, p, f, s) for (_, p, f, s) in cols]
            print(f"| {key[1]} | {len(rs)} | {lost}/{dup} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
