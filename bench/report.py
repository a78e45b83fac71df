#!/usr/bin/env python3
"""The Python half of bench/compare.sh: checks a Weft run's output and prints the comparison table.

  report.py weft-record --workload W --layout L --run N --seconds S --exit RC --t0 EPOCH
                        --log FILE --out DIR --data DIR [--timed-out B] [--builds-running B]
      one JSON line: the run's time, the output check, and where the time went (from the
      driver's INFO lines: executors registered, jobs and stages)
  report.py table RUN_DIR [--spark-mode run|results|skip] [--results-md RESULTS.md]
      the Markdown table from RUN_DIR/results.jsonl

Checks follow the Spark harness (spark_bench.py): group counts and sums for wordcount and groupby,
ranked nodes / rank sum / top node for PageRank; the sort's output must hold every input line once
(count, bytes, an order-independent hash of the lines) with keys ascending through the part files.
Standard library only.
"""
import argparse
import datetime
import glob
import hashlib
import json
import os
import re
import statistics
import sys

# ----------------------------------------------------------------------------- checks


def part_files(out):
    return sorted(p for p in glob.glob(os.path.join(out, "part-*")) if os.path.isfile(p))


def rows(out):
    for p in part_files(out):
        with open(p, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    yield line.rstrip("\n").split("\t")


def dup(keys):
    """{"duplicate_keys": n} when a key appears more than once (one line per key is expected)."""
    n = len(keys) - len(set(keys))
    return {"duplicate_keys": n} if n else {}


def check_counts(out):
    keys, total = [], 0
    for r in rows(out):
        keys.append(r[0])
        total += int(r[-1])
    return {"groups": len(keys), "sum_count": total, **dup(keys)}


def check_sum_count(out):
    keys, s, c = [], 0, 0
    for r in rows(out):
        keys.append(r[0])
        s += int(r[1])
        c += int(r[2])
    return {"groups": len(keys), "sum_num": s, "sum_count": c, **dup(keys)}


def check_ranks(out):
    rs = [(int(r[0]), float(r[1])) for r in rows(out)]
    top = max(rs, key=lambda r: r[1])
    return {"ranked_nodes": len(rs), "rank_sum": round(sum(r[1] for r in rs), 3),
            "top_node": top[0], "top_rank": round(top[1], 3), **dup([r[0] for r in rs])}


def line_digest(paths, ordered):
    """(lines, bytes, sum of 64-bit line hashes mod 2^64, keys ascending?, first disorder)."""
    lines = size = acc = 0
    prev = b""
    disorder = None
    for p in paths:
        with open(p, "rb") as fh:
            for line in fh:
                lines += 1
                size += len(line)
                acc = (acc + int.from_bytes(hashlib.blake2b(line, digest_size=8).digest(), "little")) \
                    & 0xFFFFFFFFFFFFFFFF
                if ordered:
                    key = line[:10]
                    if key < prev and disorder is None:
                        disorder = f"{os.path.basename(p)} line {lines}: {key!r} after {prev!r}"
                    prev = key
    return lines, size, acc, disorder


def check_sort(out, data):
    lines, size, acc, disorder = line_digest(part_files(out), ordered=True)
    in_lines, in_size, in_acc, _ = line_digest(sorted(glob.glob(os.path.join(data, "kv", "part-*"))),
                                               ordered=False)
    return {"records": lines, "bytes": size, "keys_ascending": disorder is None,
            "same_lines_as_input": (lines, size, acc) == (in_lines, in_size, in_acc),
            **({"first_disorder": disorder} if disorder else {}),
            **({"input_records": in_lines, "input_bytes": in_size}
               if (lines, size) != (in_lines, in_size) else {})}


CHECKS = {"wordcount": check_counts, "groupby": check_sum_count, "pagerank": check_ranks}

# ----------------------------------------------------------------------------- the driver's log

TS = r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)"


def epoch(ts):
    # tracing's RFC 3339 UTC stamp, microseconds or nanoseconds
    base, _, frac = ts.rstrip("Z").partition(".")
    t = datetime.datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    return t.timestamp() + (float("0." + frac) if frac else 0.0)


def timeline(log, t0, t_end):
    """Where the time went, from the driver's INFO lines (None for what the log does not show)."""
    reg, jobs, stages, app = [], [], [], None
    first_job = first_line = None
    try:
        text = open(log, encoding="utf-8", errors="replace").read()
    except OSError:
        return {}
    for line in text.splitlines():
        m = re.search(r"(application_\d+_\d+)", line)
        if m and not app:
            app = m.group(1)
        m = re.match(TS, line.strip())
        if not m:
            continue
        t = epoch(m.group(1))
        if first_line is None:
            first_line = t
        if "Registered executor" in line:
            reg.append(t)
        elif "Got job" in line and first_job is None:
            first_job = t
        m = re.search(r"Job (\d+) finished: (.*), took ([\d.]+) s", line)
        if m:
            jobs.append({"job": int(m.group(1)), "name": m.group(2), "s": float(m.group(3)), "end": t})
        m = re.search(r"Stage (\d+) \((.*)\) finished in ([\d.]+) s", line)
        if m:
            stages.append({"stage": int(m.group(1)), "name": m.group(2), "s": float(m.group(3))})
    tl = {"app": app, "jobs": [{k: v for k, v in j.items() if k != "end"} for j in jobs],
          "stages": stages}
    if first_line is not None:
        tl["to_driver_log_s"] = round(first_line - t0, 3)
    if reg:
        tl["to_first_executor_s"] = round(min(reg) - t0, 3)
        tl["to_all_executors_s"] = round(max(reg) - t0, 3)
    if first_job is not None:
        tl["to_first_job_s"] = round(first_job - t0, 3)
    if jobs:
        tl["jobs_s"] = round(sum(j["s"] for j in jobs), 3)
        tl["after_last_job_s"] = round(t_end - max(j["end"] for j in jobs), 3)
    return tl


def weft_record(a):
    rec = {"engine": "weft", "workload": a.workload, "layout": a.layout, "run": a.run,
           "seconds": a.seconds, "exit": a.exit, "timed_out": a.timed_out == "true",
           "builds_seen": a.builds_seen, "log": a.log}
    if a.exit == 0:
        try:
            rec["check"] = check_sort(a.out, a.data) if a.workload == "sort" else CHECKS[a.workload](a.out)
            rec["success_marker"] = os.path.exists(os.path.join(a.out, "_SUCCESS"))
            rec["part_files"] = len(part_files(a.out))
        except Exception as e:  # a missing or malformed output is a finding, not a crash
            rec["check_error"] = f"{type(e).__name__}: {e}"
    rec["timeline"] = timeline(a.log, a.t0, a.t0 + a.seconds)
    if a.rm and rec["timeline"].get("app"):
        rec["containers"] = containers(a.rm, rec["timeline"]["app"])
    print(json.dumps(rec, sort_keys=True))


def containers(rm, app):
    """The executors' containers as the ResourceManager reports them: size, peak memory, exit."""
    import urllib.request
    out = []
    try:
        base = f"http://{rm}/ws/v1/cluster/apps/{app}/appattempts"
        with urllib.request.urlopen(base, timeout=10) as r:
            attempts = json.load(r)["appAttempts"]["appAttempt"]
        for att in attempts:
            with urllib.request.urlopen(f"{base}/{att['appAttemptId']}/containers", timeout=10) as r:
                for c in json.load(r)["containers"]["container"]:
                    out.append({"id": c["containerId"], "node": c["nodeId"], "mb": c["allocatedMB"],
                                "vcores": c["allocatedVCores"], "exit": c["containerExitStatus"],
                                "peak_mb": round(c["peakPhysicalMemoryBytes"] / 2**20),
                                "limit_mb": round(c["physicalMemoryLimitBytes"] / 2**20)})
    except Exception as e:  # REST is a nicety here
        out.append({"error": f"{type(e).__name__}: {e}"})
    return out


# ----------------------------------------------------------------------------- the table

SPARK_NAMES = {  # workload -> {engine: harness workload}
    "wordcount": {"spark-df": "wordcount_df", "spark-rdd-scala": "wordcount_scala",
                  "spark-rdd-py": "wordcount_rdd"},
    "sort": {"spark-df": "sort_df", "spark-rdd-scala": "sort_scala", "spark-rdd-py": "sort_rdd"},
    "groupby": {"spark-df": "groupby_df", "spark-rdd-scala": "groupby_reducebykey_scala",
                "spark-rdd-py": "groupby_reducebykey_rdd"},
    "pagerank": {"spark-df": "pagerank_df", "spark-rdd-scala": "pagerank_scala",
                 "spark-rdd-py": "pagerank_rdd"},
}
API = {"spark-df": "DataFrame", "spark-rdd-scala": "Scala RDD", "spark-rdd-py": "PySpark RDD"}
RUST_NAMES = {"wordcount": "wordcount", "sort": "sort", "groupby": "groupby_reducebykey",
              "pagerank": "pagerank"}
RESULTS_MD_ROWS = {"wordcount": "wordcount", "sort": "sort (sortByKey / orderBy)",
                   "groupby": "groupBy agg (reduceByKey / agg)", "pagerank": "PageRank 10 iters"}
TITLES = {"wordcount": ("WordCount", "corpus", "words"), "sort": ("Sort", "kv", "records"),
          "groupby": ("groupBy-aggregate", "kv", "records"), "pagerank": ("PageRank 10 iters", "edges", "edges")}


def title(w, manifest):
    name, ds, unit = TITLES.get(w, (w, None, None))
    m = manifest.get(ds, {})
    if not m:
        return name
    n = m.get(unit, m.get("records", 0))
    return f"{name} ({m['bytes'] / 1e6:,.{0 if m['bytes'] > 1e8 else 1}f} MB, {n / 1e6:.3g} M {unit})"


def results_md(path):
    """workload -> (best seconds, API) from RESULTS.md's 2-core table (medians of its runs)."""
    out = {}
    try:
        text = open(path, encoding="utf-8").read()
    except OSError:
        return out
    sec = text.split("### 2 cores", 1)
    if len(sec) < 2:
        return out
    for line in sec[1].split("###", 1)[0].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        for w, label in RESULTS_MD_ROWS.items():
            if cells and cells[0] == label and len(cells) >= 7:
                best = None
                for api, cell in zip(("PySpark RDD", "DataFrame", "Scala RDD"), cells[3:6]):
                    m = re.match(r"([\d.]+)", cell)
                    if m and (best is None or float(m.group(1)) < best[0]):
                        best = (float(m.group(1)), api)
                if best:
                    out[w] = best
    return out


def same(ref, got):
    """Do two checks agree on the keys both have (ranks to 1e-6 relative)?"""
    keys = set(ref) & set(got)
    if not keys:
        return None
    for k in keys:
        a, b = ref[k], got[k]
        if isinstance(a, float) or isinstance(b, float):
            if abs(float(a) - float(b)) > 1e-6 * max(1.0, abs(float(a))) + 1e-3:
                return False
        elif a != b:
            return False
    return True


def fmt(s):
    return "–" if s is None else (f"{s:.2f}" if s < 10 else f"{s:.1f}")


def table(a):
    recs = [json.loads(l) for l in open(os.path.join(a.run_dir, "results.jsonl")) if l.strip()]
    env = next((r for r in recs if r.get("engine") == "_env"), {})
    try:
        manifest = json.load(open(os.path.join(env.get("data", ""), "MANIFEST.json")))
    except (OSError, ValueError):
        manifest = {}
    weft = [r for r in recs if r.get("engine") == "weft"]
    workloads = list(dict.fromkeys(r["workload"] for r in weft))
    # RESULTS.md's figures hold for its reduced data set only (gen_data.py's sizes, as compare.sh makes)
    reduced = (manifest.get("kv", {}).get("records") == 5_000_000
               and manifest.get("edges", {}).get("records") == 1_000_000
               and manifest.get("corpus", {}).get("bytes") == 536_870_325)
    fallback = results_md(a.results_md) if a.results_md and reduced else {}
    lines, noisy, details = [], [], []
    spark_pass = next((r for r in recs if r.get("engine") == "_spark_pass"), None)
    if spark_pass and spark_pass.get("builds_seen"):
        noisy.append(f"the Spark pass ({spark_pass['builds_seen']} of its {spark_pass.get('seconds', 0):.0f} s)")
    lines.append("| workload | Weft s (layout) | Spark best s (API) | Rust baseline s | "
                 "speed-up vs Spark (Spark ÷ Weft) | Weft ÷ Rust | output check |")
    lines.append("|---|---:|---:|---:|---:|---:|---|")
    for w in workloads:
        runs = [r for r in weft if r["workload"] == w]
        ok = [r for r in runs if r["exit"] == 0]
        # the layout with the lowest median; its median run stands for it (all of them with RUNS=1)
        by_layout = {}
        for r in ok:
            by_layout.setdefault(r["layout"], []).append(r)
        best, n_best = None, 0
        for lay, rs in by_layout.items():
            rs = sorted(rs, key=lambda r: r["seconds"])
            med = rs[(len(rs) - 1) // 2] if len(rs) % 2 else None
            secs = med["seconds"] if med else statistics.median(r["seconds"] for r in rs)
            if best is None or secs < best["seconds"]:
                best = dict(med or rs[len(rs) // 2], seconds=secs)
                n_best = len(rs)
        # Spark: measured in this run, else RESULTS.md
        sp = []  # (median seconds, API, a record) per API
        for eng, name in SPARK_NAMES[w].items():
            rs = [r for r in recs if r.get("engine") == eng and r.get("workload") == name and not r.get("error")]
            if rs:
                sp.append((statistics.median(r["seconds"] for r in rs), API[eng], rs[0]))
        spark = min(sp, key=lambda x: x[0]) if sp else None
        spark_label = None
        if spark:
            spark_label = f"{fmt(spark[0])} ({spark[1]})"
        elif a.spark_mode != "skip" and w in fallback:
            spark = (fallback[w][0], fallback[w][1], {})
            spark_label = f"{fmt(spark[0])} ({spark[1]}; RESULTS.md)"
        rust = [r for r in recs if r.get("engine") == "rust-baseline" and r.get("workload") == RUST_NAMES[w]]
        rust = dict(rust[0], seconds=statistics.median(r["seconds"] for r in rust)) if rust else None
        # the check, against the references measured in this run
        verdict = "–"
        if best and best.get("check"):
            c = best["check"]
            if w == "sort":
                good = c.get("keys_ascending") and c.get("same_lines_as_input")
                verdict = (f"{'ok' if good else 'WRONG'}: {c['records']:,} lines, {c['bytes']:,} B, "
                           f"keys ascending {c['keys_ascending']}, same lines as input "
                           f"{c['same_lines_as_input']}")
            else:
                refs = []
                if rust and rust.get("check"):
                    refs.append(("Rust", same(rust["check"], c)))
                if spark and spark[2].get("check"):
                    refs.append((spark[1], same(spark[2]["check"], c)))
                agree = [n for n, v in refs if v]
                differ = [n for n, v in refs if v is False]
                verdict = json.dumps(c, sort_keys=True)
                if c.get("duplicate_keys"):
                    verdict = "WRONG (a key on several lines): " + verdict
                elif differ:
                    verdict = f"DIFFERS from {', '.join(differ)}: " + verdict
                elif agree:
                    verdict = f"= {', '.join(agree)}: " + verdict
            if best.get("success_marker") is False:
                verdict += "; no _SUCCESS"
        elif best and best.get("check_error"):
            verdict = "check failed: " + best["check_error"]
        elif not best:
            r = runs[-1]
            verdict = ("TIMED OUT" if r.get("timed_out") else f"FAILED (exit {r['exit']})") + f"; log {r['log']}"
        weft_cell = (f"{fmt(best['seconds'])} ({best['layout']}{f', median of {n_best}' if n_best > 1 else ''})"
                     if best else "failed")
        ratio_s = f"{spark[0] / best['seconds']:.2f}×" if best and spark else "–"
        ratio_r = f"{best['seconds'] / rust['seconds']:.1f}×" if best and rust else "–"
        rust_cell = fmt(rust["seconds"]) if rust else "–"
        if best and best.get("builds_seen"):
            weft_cell += " *"
            noisy.append(f"Weft {w} ({best['builds_seen']} s)")
        if spark and spark[2] and spark_pass and spark_pass.get("builds_seen"):
            spark_label += " *"
        rust_noise = next((r for r in recs if r.get("engine") == "_rust_noise"
                           and r.get("workload") == RUST_NAMES[w]), {})
        if rust and rust_noise.get("builds_seen"):
            rust_cell += " *"
            noisy.append(f"Rust {w}")
        lines.append(f"| {title(w, manifest)} | {weft_cell} | {spark_label or '–'} | "
                     f"{rust_cell} | {ratio_s} | {ratio_r} | {verdict} |")
        # where Weft's time went
        for r in runs:
            tl = r.get("timeline") or {}
            parts = [f"{r['layout']} run {r['run']}: {fmt(r['seconds'])} s, exit {r['exit']}"
                     + (f", {r['builds_seen']} s with a build running" if r.get("builds_seen") else "")]
            if "to_driver_log_s" in tl:
                parts.append(f"driver's first line at {tl['to_driver_log_s']:.2f} s")
            if "to_all_executors_s" in tl:
                parts.append(f"executors registered at {tl['to_first_executor_s']:.2f}/{tl['to_all_executors_s']:.2f} s")
            if "to_first_job_s" in tl:
                parts.append(f"first job at {tl['to_first_job_s']:.2f} s")
            if "jobs_s" in tl:
                parts.append(f"jobs {tl['jobs_s']:.2f} s")
            if "after_last_job_s" in tl:
                parts.append(f"after the last job {tl['after_last_job_s']:.2f} s")
            cs = [c for c in r.get("containers", []) if c.get("peak_mb")]
            if cs:
                parts.append("executor peak RSS " + ", ".join(f"{c['peak_mb']}/{c['limit_mb']} MB" for c in cs))
            details.append(f"- {w}, " + "; ".join(parts))
            if tl.get("stages"):
                st = tl["stages"]
                shown = ", ".join(f"{s['stage']} {s['name']} {s['s']:.2f}" for s in st[:8])
                more = f", … ({len(st)} stages, {sum(s['s'] for s in st):.2f} s)" if len(st) > 8 else ""
                details.append(f"  - stages: {shown}{more}")
    print(f"\n## Weft vs Spark vs Rust baseline — {env.get('data', '')}\n")
    print(f"commit {env.get('commit', '?')}{' (+ uncommitted changes)' if env.get('dirty') else ''}, "
          f"{env.get('nproc', '?')} cores, {env.get('rustc', '?')}, {env.get('java', '?')}; "
          f"Weft: `weft submit --master yarn --deploy-mode {env.get('deploy_mode', '?')}` on "
          f"deploy/local-cluster.sh, executors {env.get('layouts', '?')} (NUMxCORESxMEMORY); "
          f"Spark local[2]; Rust baseline 2 threads.\n")
    print("\n".join(lines))
    print("\nWeft: wall time from the start of `weft submit` to its exit (submission, executor "
          "containers, the job, output written). Spark: inside the job, JVM and SparkSession start "
          "excluded (the harness's timing). Rust: inside the process.")
    if spark_pass and spark_pass.get("exit"):
        print(f"\nThe Spark pass ended with status {spark_pass['exit']}; rows without a figure of "
              "this run take RESULTS.md's (2-core medians, measured 2026-11-23 on this machine).")
    if noisy:
        print("\n\\* another cargo/rustc process was running during: " + ", ".join(noisy) +
              " — those figures are slowed by an unknown amount; rerun when the machine is quiet.")
    apis = [(eng, API[eng]) for eng in API
            if any(r.get("engine") == eng for r in recs)]
    if apis:
        print("\n### Spark by API, this run (seconds inside the job; median if several runs)\n")
        print("| workload | " + " | ".join(n for _, n in apis) + " |")
        print("|---|" + "---:|" * len(apis))
        for w in workloads:
            cells = []
            for eng, _ in apis:
                rs = [r for r in recs if r.get("engine") == eng and r.get("workload") == SPARK_NAMES[w][eng]]
                ok_rs = [r["seconds"] for r in rs if not r.get("error")]
                cells.append(fmt(statistics.median(ok_rs)) if ok_rs else ("error" if rs else "–"))
            print(f"| {w} | " + " | ".join(cells) + " |")
    layouts = list(dict.fromkeys(r["layout"] for r in weft))
    if len(layouts) > 1:
        print("\n### Weft by executor layout (NUMxCORESxMEMORY; median seconds of the successful runs)\n")
        print("| workload | " + " | ".join(layouts) + " |")
        print("|---|" + "---:|" * len(layouts))
        for w in workloads:
            cells = []
            for lay in layouts:
                v = [r["seconds"] for r in weft if r["workload"] == w and r["layout"] == lay and r["exit"] == 0]
                cells.append(f"{fmt(statistics.median(v))} (n={len(v)})" if v else "–")
            print(f"| {w} | " + " | ".join(cells) + " |")
    print("\n### Where Weft's time went (from the driver's log)\n")
    print("\n".join(details))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("weft-record")
    r.add_argument("--workload", required=True)
    r.add_argument("--layout", required=True)
    r.add_argument("--run", type=int, default=1)
    r.add_argument("--seconds", type=float, required=True)
    r.add_argument("--exit", type=int, required=True)
    r.add_argument("--t0", type=float, required=True)
    r.add_argument("--log", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--data", required=True)
    r.add_argument("--timed-out", default="false")
    r.add_argument("--rm", default=None, help="the ResourceManager's web address, for the containers")
    r.add_argument("--builds-seen", type=int, default=0,
                   help="seconds in which a cargo/rustc process was seen during the run")
    t = sub.add_parser("table")
    t.add_argument("run_dir")
    t.add_argument("--spark-mode", default="run")
    t.add_argument("--results-md", default=os.path.join(
        os.environ.get("BENCH_HARNESS", "/work/shared/bench"), "RESULTS.md"))
    a = ap.parse_args()
    if a.cmd == "weft-record":
        weft_record(a)
    else:
        table(a)


if __name__ == "__main__":
    sys.exit(main())
