#!/usr/bin/env python3
"""Collects bench/run.sh's hyperfine exports into report.json and RESULTS.md.

usage: report.py OUT_DIR RESULTS_MD VERSIONS_TEXT QUICK
"""
import glob
import json
import os
import sys

out, results_md, versions, quick = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"

# (case id, limit on rbuild / reference, reference: "buildkit" or "best-transfer-peer")
TARGETS = {
    "small.noop": 0.5, "bigfiles.noop": 0.5, "manyfiles.noop": 0.5, "deep.noop": 0.5,
    "small.cold": 0.7, "multistage.cold": 0.7,
    "bigfiles.cold": 0.4, "manyfiles.cold": 0.4, "bigfiles.edit": 0.4,
    "transfer.gzip": 0.7, "transfer.zstd": 0.3,
}
# Rows that are not peers: "wire" is the floor of a transfer (bench/wire.sh), shown beside them.
NOT_PEERS = {"wire"}


def load():
    cases = {}
    for path in sorted(glob.glob(os.path.join(out, "*.json"))):
        name = os.path.basename(path)[: -len(".json")]
        parts = name.split(".")
        if len(parts) != 3 or parts[2] == "cachehit":
            continue
        case, tool = ".".join(parts[:2]), parts[2]
        r = json.load(open(path))["results"][0]
        cases.setdefault(case, {})[tool] = {
            "min_ms": round(r["min"] * 1000, 1),
            "median_ms": round(r["median"] * 1000, 1),
            "mean_ms": round(r["mean"] * 1000, 1),
            "runs": len(r["times"]),
        }
    for path in glob.glob(os.path.join(out, "*.rss")):
        case = os.path.basename(path)[: -len(".rss")]
        kbs = [int(l) for l in open(path) if l.strip().isdigit()]
        if kbs and case in cases and "rbuild" in cases[case]:
            cases[case]["rbuild"]["peak_rss_mb"] = round(max(kbs) / 1024, 1)
    return cases


def ratios(cases):
    for case, tools in cases.items():
        rb = tools.get("rbuild")
        if not rb:
            continue
        others = {t: v for t, v in tools.items() if t != "rbuild"}
        r = {t: round(rb["median_ms"] / v["median_ms"], 3) for t, v in others.items()}
        peers = {t: v for t, v in others.items() if t not in NOT_PEERS}
        if case.startswith("transfer.") and peers:
            best = min(v["median_ms"] for v in peers.values())
            r["best_peer"] = round(rb["median_ms"] / best, 3)
            if "wire" in tools:
                r["wire_floor_over_best_peer"] = round(tools["wire"]["median_ms"] / best, 3)
        tools["ratios"] = r


def verdicts(cases):
    v = []
    for case, limit in TARGETS.items():
        if case not in cases or "ratios" not in cases[case]:
            continue
        key = "best_peer" if case.startswith("transfer.") else "buildkit"
        got = cases[case]["ratios"].get(key)
        if got is not None:
            v.append((f"{case}: rbuild/{key} ≤ {limit}", got, got <= limit))
        floor = cases[case]["ratios"].get("wire_floor_over_best_peer")
        if floor is not None:
            v.append((f"{case}: (not a target) the wire floor/{key}, what no client goes under",
                      floor, None))
    hit = os.path.join(out, "small.touch.cachehit.json")
    if os.path.exists(hit):
        h = json.load(open(hit))
        v.append(("small.touch: every step CACHED", f"{h['cached']}/{h['steps']}",
                  h["steps"] > 0 and h["cached"] >= h["steps"] - 1))
    big = cases.get("bigfiles.cold", {}).get("rbuild", {}).get("peak_rss_mb")
    small = cases.get("small.cold", {}).get("rbuild", {}).get("peak_rss_mb")
    if big:
        v.append(("bigfiles.cold: peak RSS ≤ 100 MB", big, big <= 100))
        if small:
            v.append(("bigfiles.cold: peak RSS ≤ 1.2 × small.cold's", round(big / small, 2), big <= 1.2 * small))
    return v


def verdict_word(ok):
    return {True: "PASS", False: "MISS", None: "info"}[ok]


def markdown(cases, verdict):
    lines = ["# rbuild benchmark results", "",
             "Produced by `bench/run.sh`" + (" with `QUICK=1` (reduced sizes)" if quick else "")
             + "; medians and minimums of hyperfine runs (`--warmup 1`), in milliseconds.", "",
             "```", versions, "```", "",
             "| case | tool | min ms | median ms | rbuild/tool | rbuild peak RSS MB |",
             "|---|---|---:|---:|---:|---:|"]
    order = ["rbuild", "buildkit", "buildah", "skopeo", "wire"]
    for case, tools in cases.items():
        for tool in sorted((t for t in tools if t != "ratios"), key=order.index):
            f = tools[tool]
            ratio = "" if tool == "rbuild" else f"{tools.get('ratios', {}).get(tool, '')}"
            rss = f.get("peak_rss_mb", "")
            lines.append(f"| {case} | {tool} | {f['min_ms']:.0f} | {f['median_ms']:.0f} | {ratio} | {rss} |")
    lines += ["", "## Acceptance targets", "", "| target | measured | verdict |", "|---|---:|---|"]
    for name, got, ok in verdict:
        lines.append(f"| {name} | {got} | {verdict_word(ok)} |")
    extra = os.path.join(os.path.dirname(results_md), "NOTES.md")
    if os.path.exists(extra):
        lines += ["", open(extra).read().rstrip()]
    return "\n".join(lines) + "\n"


def main():
    cases = load()
    ratios(cases)
    verdict = verdicts(cases)
    report = {"quick": quick, "versions": versions.splitlines(), "cases": cases,
              "targets": [{"target": n, "measured": g, "pass": ok} for n, g, ok in verdict if ok is not None],
              "floors": [{"what": n, "measured": g} for n, g, ok in verdict if ok is None]}
    json.dump(report, open(os.path.join(out, "report.json"), "w"), indent=2)
    open(results_md, "w").write(markdown(cases, verdict))
    for name, got, ok in verdict:
        print(f"{verdict_word(ok)}  {name}: {got}")


main()
