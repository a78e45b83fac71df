#!/usr/bin/env python3
"""The Python half of bench/compare.sh: checks a Weft run's output and prints the comparison table.

  report.py weft-record --workload W --layout L --run N --seconds S --exit RC --t0 EPOCH
                        --log FILE --out DIR --data DIR [--timed-out B] [--builds-running B]
      one JSON line: the run's time, the output check, and where the time went (from the
      driver's INFO lines: executors registered, jobs and stages)
  report.py table RUN_DIR [--spark-mode run|results|skip] [--results-md RESULTS.md]
      the Markdown table from RUN_DIR/results.jsonl
  report.py gen-args DATA WORKLOAD…
      the gen_data.py arguments that make the data sets these workloads need and DATA lacks
      (nothing when it has them all), at the sizes DATA's MANIFEST.json already has, else the
      reduced ones

Checks follow the Spark harness (spark_bench.py): group counts and sums for wordcount, groupby,
skew_groupby and skew_join, ranked nodes / rank sum / top node for PageRank, π to 5 decimals for
SparkPi (within 1e-3 of π: 1e8 samples leave a standard error of 1.6e-4); the sort's output must
hold every input line once (count, bytes, an order-independent hash of the lines) with keys
ascending through the output files. bench/sail_runner.py checks Sail's output with the same
functions. Standard library only.
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
    """An output directory's data files in order: Spark's and Weft's `part-NNNNN…`, else (Sail
    names them `<id>_<n>.csv`) the files not starting with `_` or `.`, by the number after `_`."""
    files = [p for p in glob.glob(os.path.join(out, "*"))
             if os.path.isfile(p) and not os.path.basename(p).startswith(("_", "."))]
    parts = sorted(p for p in files if os.path.basename(p).startswith("part-"))
    if parts:
        return parts

    def order(p):
        m = re.search(r"_(\d+)(?:\.[^._]*)?$", os.path.basename(p))
        return (int(m.group(1)) if m else -1, os.path.basename(p))
    return sorted(files, key=order)


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
    """(lines, bytes, sum of 64-bit line hashes mod 2^64, first disorder through the files in their
    order, first disorder within a file): the disorders None when the keys ascend."""
    lines = size = acc = 0
    prev = b""
    disorder = in_file = None
    for p in paths:
        first = True
        with open(p, "rb") as fh:
            for n, line in enumerate(fh, 1):
                lines += 1
                size += len(line)
                acc = (acc + int.from_bytes(hashlib.blake2b(line, digest_size=8).digest(), "little")) \
                    & 0xFFFFFFFFFFFFFFFF
                if ordered:
                    key = line[:10]
                    if key < prev:
                        where = f"{os.path.basename(p)} line {n}: {key!r} after {prev!r}"
                        disorder = disorder or where
                        if not first:
                            in_file = in_file or where
                    prev = key
                    first = False
    return lines, size, acc, disorder, in_file


def check_sort(out, data):
    lines, size, acc, disorder, in_file = line_digest(part_files(out), ordered=True)
    in_lines, in_size, in_acc, _, _ = line_digest(sorted(glob.glob(os.path.join(data, "kv", "part-*"))),
                                                  ordered=False)
    return {"records": lines, "bytes": size, "keys_ascending": disorder is None,
            "same_lines_as_input": (lines, size, acc) == (in_lines, in_size, in_acc),
            # whether the files are sorted each on its own when they are not in order together
            **({"first_disorder": disorder, "each_file_ascending": in_file is None} if disorder else {}),
            **({"input_records": in_lines, "input_bytes": in_size}
               if (lines, size) != (in_lines, in_size) else {})}


PI_TOLERANCE = 1e-3  # about 6 standard errors of a 1e8-sample estimate


def check_pi(pi):
    return {"pi": round(pi, 5)}


def check_pi_log(log):
    """π from the driver's `Pi is roughly X` line."""
    m = re.search(r"Pi is roughly ([\d.]+)", open(log, encoding="utf-8", errors="replace").read())
    if not m:
        raise ValueError("no 'Pi is roughly' line in the log")
    return check_pi(float(m.group(1)))


CHECKS = {"wordcount": check_counts, "groupby": check_sum_count, "skew_groupby": check_sum_count,
          "skew_join": check_sum_count, "pagerank": check_ranks}


def check_output(workload, out, data):
    """The check of an output directory, as the harness makes it (the sort's: see check_sort)."""
    return check_sort(out, data) if workload == "sort" else CHECKS[workload](out)

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
            if a.workload == "sparkpi":
                rec["check"] = check_pi_log(a.log)
            else:
                rec["check"] = check_output(a.workload, a.out, a.data)
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


# ----------------------------------------------------------------------------- the data sets

NEEDS = {"wordcount": ["corpus"], "sort": ["kv"], "groupby": ["kv"], "skew_groupby": ["kv_skew"],
         "skew_join": ["kv_skew", "dim"], "pagerank": ["edges"], "sparkpi": []}
GEN_NAMES = {"corpus": "corpus", "kv": "kv", "kv_skew": "skew", "dim": "dim", "edges": "edges"}


def gen_args(a):
    """gen_data.py's arguments for the data sets the workloads need and DATA lacks."""
    try:
        manifest = json.load(open(os.path.join(a.data, "MANIFEST.json")))
    except (OSError, ValueError):
        manifest = {}
    missing = []
    for w in a.workloads:
        for ds in NEEDS[w]:
            have = ds in manifest and glob.glob(os.path.join(a.data, ds, "part-*"))
            if not have and GEN_NAMES[ds] not in missing:
                missing.append(GEN_NAMES[ds])
    if not missing:
        return
    # the sizes the data set already has (the key pool is shared by kv, kv_skew and dim), else the
    # reduced ones RESULTS.md's main tables use
    kv = manifest.get("kv") or manifest.get("kv_skew") or {}
    skew = manifest.get("kv_skew") or kv
    keys = kv.get("distinct_key_pool") or manifest.get("dim", {}).get("records") or 250_000
    edges = manifest.get("edges", {})
    args = ["--only", ",".join(missing),
            "--kv-records", str(kv.get("records", 5_000_000)), "--kv-keys", str(keys),
            "--skew-records", str(skew.get("records", kv.get("records", 5_000_000))),
            "--nodes", str(edges.get("nodes", 100_000)), "--edges", str(edges.get("records", 1_000_000))]
    print(" ".join(args))


# ----------------------------------------------------------------------------- the table

SPARK_NAMES = {  # workload -> {engine: harness workload}
    "wordcount": {"spark-df": "wordcount_df", "spark-rdd-scala": "wordcount_scala",
                  "spark-rdd-py": "wordcount_rdd"},
    "sort": {"spark-df": "sort_df", "spark-rdd-scala": "sort_scala", "spark-rdd-py": "sort_rdd"},
    "groupby": {"spark-df": "groupby_df", "spark-rdd-scala": "groupby_reducebykey_scala",
                "spark-rdd-py": "groupby_reducebykey_rdd"},
    # the harness has the skewed set's RDD variants as groupByKey only
    "skew_groupby": {"spark-df": "skew_groupby_df", "spark-rdd-scala": "skew_groupbykey_scala",
                     "spark-rdd-py": "skew_groupbykey_rdd"},
    "skew_join": {"spark-df": "skew_join_df", "spark-rdd-scala": "skew_join_scala",
                  "spark-rdd-py": "skew_join_rdd"},
    "pagerank": {"spark-df": "pagerank_df", "spark-rdd-scala": "pagerank_scala",
                 "spark-rdd-py": "pagerank_rdd"},
    "sparkpi": {"spark-df": "sparkpi_df", "spark-rdd-scala": "sparkpi_scala", "spark-rdd-py": "sparkpi_rdd"},
}
API = {"spark-df": "DataFrame", "spark-rdd-scala": "Scala RDD", "spark-rdd-py": "PySpark RDD"}
RUST_NAMES = {"wordcount": "wordcount", "sort": "sort", "groupby": "groupby_reducebykey",
              "skew_groupby": "skew_groupby", "skew_join": "skew_join", "pagerank": "pagerank",
              "sparkpi": "sparkpi"}
RESULTS_MD_ROWS = {"wordcount": ["wordcount"], "sort": ["sort (sortByKey / orderBy)"],
                   "groupby": ["groupBy agg (reduceByKey / agg)"],
                   "skew_groupby": ["skewed groupBy agg", "skewed groupByKey (30% one key)"],
                   "skew_join": ["skewed join + agg"], "pagerank": ["PageRank 10 iters"],
                   "sparkpi": ["SparkPi 1e8"]}
TITLES = {"wordcount": ("WordCount", ["corpus"], "words"), "sort": ("Sort", ["kv"], "records"),
          "groupby": ("groupBy-aggregate", ["kv"], "records"),
          "skew_groupby": ("skewed groupBy-aggregate", ["kv_skew"], "records"),
          "skew_join": ("skewed join + aggregate", ["kv_skew", "dim"], "records"),
          "pagerank": ("PageRank 10 iters", ["edges"], "edges"), "sparkpi": ("SparkPi", [], None)}
PI_SAMPLES = 100_000_000


def title(w, manifest):
    name, sets, unit = TITLES.get(w, (w, [], None))
    if w == "sparkpi":
        return f"{name} ({PI_SAMPLES:.0e} samples)".replace("e+0", "e")
    ms = [manifest.get(ds, {}) for ds in sets]
    if not sets or not all(ms):
        return name
    size = sum(m["bytes"] for m in ms)
    n = sum(m.get(unit, m.get("records", 0)) for m in ms)
    return f"{name} ({size / 1e6:,.{0 if size > 1e8 else 1}f} MB, {n / 1e6:.3g} M {unit})"


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
        for w, labels in RESULTS_MD_ROWS.items():
            if cells and cells[0] in labels and len(cells) >= 7:
                for api, cell in zip(("PySpark RDD", "DataFrame", "Scala RDD"), cells[3:6]):
                    m = re.match(r"([\d.]+)", cell)
                    if m and (w not in out or float(m.group(1)) < out[w][0]):
                        out[w] = (float(m.group(1)), api)
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


def sort_verdict(c):
    if c.get("keys_ascending") and c.get("same_lines_as_input"):
        status = "ok"
    elif c.get("same_lines_as_input") and c.get("each_file_ascending"):
        status = "NOT IN ORDER ACROSS FILES (each file sorted on its own)"
    else:
        status = "WRONG"
    where = "" if c.get("keys_ascending") else f" (first disorder: {c.get('first_disorder')})"
    return (f"{status}: {c['records']:,} lines, {c['bytes']:,} B, keys ascending "
            f"{c['keys_ascending']}{where}, same lines as input {c['same_lines_as_input']}")


def pi_ok(c):
    try:
        return abs(float(c["pi"]) - 3.141592653589793) < PI_TOLERANCE
    except (KeyError, TypeError, ValueError):
        return False


def verdict(w, checks):
    """The output check column: checks is [(engine, check)] with Weft's or Sail's first, the
    references (Rust, Spark) after; the first is compared with the others."""
    if not checks:
        return "–"
    name, c = checks[0]
    who = "" if name == "Weft" else f"{name} "
    if w == "sort":
        # neither the harness nor the Rust baseline checks its sort's lines; ours are checked
        return "; ".join(f"{'' if n == 'Weft' else n + ' '}{sort_verdict(x)}" for n, x in checks
                         if "records" in x)
    if w == "sparkpi":
        bad = [n for n, x in checks if not pi_ok(x)]
        each = ", ".join(f"{n} {x.get('pi')}" for n, x in checks)
        return (f"{'WRONG (' + ', '.join(bad) + ': off π by 1e-3 or more)' if bad else 'ok'}: π ≈ "
                f"{each} (each within {PI_TOLERANCE:g} of π passes)")
    refs = [(n, same(x, c)) for n, x in checks[1:]]
    agree = [n for n, v in refs if v]
    differ = [n for n, v in refs if v is False]
    text = json.dumps(c, sort_keys=True)
    if c.get("duplicate_keys"):
        text = f"WRONG (a key on several lines): {who}" + text
    elif differ:
        text = f"{who}DIFFERS from {', '.join(differ)}: " + text + "".join(
            f"; {n}: {json.dumps(x, sort_keys=True)}" for n, x in checks[1:] if n in differ)
    elif agree:
        text = f"{who}= {', '.join(agree)}: " + text
    elif who:
        text = f"{name}: " + text
    return text


def pick_layout(runs):
    """(the record of the layout with the lowest median (its median run), runs in it)."""
    by_layout = {}
    for r in runs:
        by_layout.setdefault(r["layout"], []).append(r)
    best, n_best = None, 0
    for rs in by_layout.values():
        rs = sorted(rs, key=lambda r: r["seconds"])
        med = rs[(len(rs) - 1) // 2] if len(rs) % 2 else None
        secs = med["seconds"] if med else statistics.median(r["seconds"] for r in rs)
        if best is None or secs < best["seconds"]:
            best = dict(med or rs[len(rs) // 2], seconds=secs)
            n_best = len(rs)
    return best, n_best


def table(a):
    recs = [json.loads(l) for l in open(os.path.join(a.run_dir, "results.jsonl")) if l.strip()]
    env = next((r for r in recs if r.get("engine") == "_env"), {})
    try:
        manifest = json.load(open(os.path.join(env.get("data", ""), "MANIFEST.json")))
    except (OSError, ValueError):
        manifest = {}
    weft = [r for r in recs if r.get("engine") == "weft"]
    sail = [r for r in recs if r.get("engine") == "sail"]
    sail_env = next((r for r in recs if r.get("engine") == "_sail"), None)
    workloads = (env["workloads"].split() if env.get("workloads")
                 else list(dict.fromkeys(r["workload"] for r in weft + sail)))
    # RESULTS.md's figures hold for its reduced data set only (gen_data.py's sizes, as compare.sh makes)
    reduced = (manifest.get("kv", {}).get("records") == 5_000_000
               and manifest.get("edges", {}).get("records") == 1_000_000
               and manifest.get("corpus", {}).get("bytes") == 536_870_325)
    fallback = results_md(a.results_md) if a.results_md and reduced else {}
    lines, noisy, details, notes = [], [], [], []
    spark_pass = next((r for r in recs if r.get("engine") == "_spark_pass"), None)
    if spark_pass and spark_pass.get("builds_seen"):
        noisy.append(f"the Spark pass ({spark_pass['builds_seen']} of its {spark_pass.get('seconds', 0):.0f} s)")
    lines.append("| workload | Weft s (layout) | Spark best s (API) | Sail best s | Rust baseline s | "
                 "Spark best ÷ Weft | Sail ÷ Weft | Weft ÷ Rust | output check |")
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for w in workloads:
        runs = [r for r in weft if r["workload"] == w]
        best, n_best = pick_layout([r for r in runs if r["exit"] == 0])
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
        # Sail: the fastest run, the median beside it; the ratio takes the median, as Weft's
        s_runs = [r for r in sail if r["workload"] == w]
        s_ok = [r for r in s_runs if not r.get("error")]
        sail_med = statistics.median(r["seconds"] for r in s_ok) if s_ok else None
        if s_ok:
            sail_cell = fmt(min(r["seconds"] for r in s_ok))
            if len(s_ok) > 1:
                sail_cell += f" (median {fmt(sail_med)})"
            if any(r.get("builds_seen") for r in s_ok):
                sail_cell += " *"
                noisy.append(f"Sail {w}")
            if len(s_ok) < len(s_runs):
                sail_cell += f" ({len(s_runs) - len(s_ok)} of {len(s_runs)} runs failed)"
        elif s_runs:
            sail_cell = "failed"
            notes.append(f"Sail {w}: {s_runs[-1]['error']}")
        else:
            sail_cell = "–"
        rust = [r for r in recs if r.get("engine") == "rust-baseline" and r.get("workload") == RUST_NAMES[w]]
        rust = dict(rust[0], seconds=statistics.median(r["seconds"] for r in rust)) if rust else None
        # the checks, against the references measured in this run
        checks = []
        if best and best.get("check"):
            checks.append(("Weft", best["check"]))
        s_checked = [r for r in s_ok if r.get("check")]
        if s_checked:
            checks.append(("Sail", s_checked[-1]["check"]))
        for r in s_ok:
            if r.get("check_error"):
                notes.append(f"Sail {w} run {r['run']}: check failed: {r['check_error']}")
        if checks:
            if rust and rust.get("check"):
                checks.append(("Rust", rust["check"]))
            if spark and spark[2].get("check"):
                checks.append((spark[1], spark[2]["check"]))
        check = verdict(w, checks)
        if best and best.get("check_error"):
            check = "Weft's check failed: " + best["check_error"] + ("; " + check if checks else "")
        elif not best and runs:
            r = runs[-1]
            check = (("Weft TIMED OUT" if r.get("timed_out") else f"Weft FAILED (exit {r['exit']})")
                     + f"; log {r['log']}" + ("; " + check if checks else ""))
        if best and best.get("success_marker") is False:
            check += "; no _SUCCESS"
        if best:
            weft_cell = (f"{fmt(best['seconds'])} ({best['layout']}"
                         f"{f', median of {n_best}' if n_best > 1 else ''})")
        else:
            weft_cell = "failed" if runs else "–"
        ratio_s = f"{spark[0] / best['seconds']:.2f}×" if best and spark else "–"
        ratio_l = f"{sail_med / best['seconds']:.2f}×" if best and sail_med else "–"
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
        lines.append(f"| {title(w, manifest)} | {weft_cell} | {spark_label or '–'} | {sail_cell} | "
                     f"{rust_cell} | {ratio_s} | {ratio_l} | {ratio_r} | {check} |")
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
    sail_desc = "Sail not run"
    if sail_env:
        sail_desc = (f"Sail {sail_env.get('version', '?')} (Spark Connect, client {sail_env.get('client', '?')}, "
                     f"parallelism {sail_env.get('parallelism', '?')})")
    print(f"\n## Weft vs Spark vs Sail vs Rust baseline — {env.get('data', '')}\n")
    print(f"commit {env.get('commit', '?')}{' (+ uncommitted changes)' if env.get('dirty') else ''}, "
          f"{env.get('nproc', '?')} cores, {env.get('rustc', '?')}, {env.get('java', '?')}; "
          f"Weft: `weft submit --master yarn --deploy-mode {env.get('deploy_mode', '?')}` on "
          f"deploy/local-cluster.sh, executors {env.get('layouts', '?')} (NUMxCORESxMEMORY); "
          f"Spark local[2]; {sail_desc}; Rust baseline 2 threads.\n")
    print("\n".join(lines))
    print("\nWeft: wall time from the start of `weft submit` to its exit (submission, executor "
          "containers, the job, output written), the median of its runs. Spark: inside the job, JVM "
          "and SparkSession start excluded (the harness's timing), the fastest API by its median. "
          "Sail: inside the job as the harness times Spark (read, compute, write; the server's and "
          "the session's start excluded), the fastest run and the median of its runs; "
          "Sail ÷ Weft divides the medians. Rust: inside the process.")
    if spark_pass and spark_pass.get("exit"):
        print(f"\nThe Spark pass ended with status {spark_pass['exit']}; rows without a figure of "
              "this run take RESULTS.md's (2-core medians, measured 2026-11-23 on this machine).")
    if sail_env and sail_env.get("error"):
        notes.insert(0, f"Sail pass: {sail_env['error']}")
    if notes:
        print("\nFailures and failed checks:\n")
        print("\n".join(f"- {n}" for n in notes))
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
    if sail:
        print("\n### Sail, every run (seconds inside the job)\n")
        print("| workload | runs | best | median |")
        print("|---|---|---:|---:|")
        for w in workloads:
            rs = [r for r in sail if r["workload"] == w]
            if rs:
                ok_s = [r["seconds"] for r in rs if not r.get("error")]
                shown = ", ".join(fmt(r["seconds"]) + (" (error)" if r.get("error") else "") for r in rs)
                print(f"| {w} | {shown} | {fmt(min(ok_s)) if ok_s else '–'} | "
                      f"{fmt(statistics.median(ok_s)) if ok_s else '–'} |")
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
    if details:
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
    g = sub.add_parser("gen-args")
    g.add_argument("data")
    g.add_argument("workloads", nargs="+", choices=sorted(NEEDS))
    t = sub.add_parser("table")
    t.add_argument("run_dir")
    t.add_argument("--spark-mode", default="run")
    t.add_argument("--results-md", default=os.path.join(
        os.environ.get("BENCH_HARNESS", "/work/shared/bench"), "RESULTS.md"))
    a = ap.parse_args()
    if a.cmd == "weft-record":
        weft_record(a)
    elif a.cmd == "gen-args":
        gen_args(a)
    else:
        table(a)


if __name__ == "__main__":
    sys.exit(main())
