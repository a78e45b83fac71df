#!/usr/bin/env python3
"""Sail's side of bench/compare.sh: the bench's DataFrame programs on Sail, timed inside the job.

Sail (https://lakesail.com, the `pysail` package) is a Spark Connect server written in Rust. This
script starts one (`python -m pysail spark server`, a subprocess on 127.0.0.1 and a free port, with
`SAIL_EXECUTION__DEFAULT_PARALLELISM` partitions for a plan's nodes), connects to it with the Spark
Connect client (`SparkSession.builder.remote("sc://127.0.0.1:PORT")`, the `pyspark-client`
package: a DataFrame API without a SparkContext), and runs each workload RUNS times: the same
reads, transformations, aggregations and writes as the harness's DataFrame programs, so that the
output is checked by report.py's checks as Weft's and Spark's are. Each run is timed around
reading the input, computing and writing the output; the server's start and the session's first
request are outside the timing, as Spark's JVM and SparkSession are in the harness. A workload
that fails on Sail (an API it does not support, say) is recorded with Sail's error, not replaced.

    $SAIL_VENV/bin/python bench/sail_runner.py --data /tmp/benchdata_m --out /tmp/sail-out \
        --results results.jsonl [--workloads wordcount,sort,…] [--runs 3] [--parallelism 2]

One JSON line per run (engine "sail") goes to --results and stdout, and one "_sail" line with the
versions and the server's start-up time; the server's own log is --server-log.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402  (the checks, shared with Weft's runs)

PI_SAMPLES = 100_000_000
PR_ITERS = 10


# ----------------------------------------------------------------------------- the programs
# Each takes (spark, F, data directory, output directory, parallelism) and returns a check of its
# own (SparkPi) or None (the output directory is checked).

def kv_frame(spark, F, path):
    """A kv data set as (k: its 10-char key, num: the 8-digit number after the TAB)."""
    line = F.col("value")
    return spark.read.text(path).select(F.substring(line, 1, 10).alias("k"),
                                        F.substring(line, 12, 8).cast("long").alias("num"))


def save_tsv(df, out):
    df.write.option("sep", "\t").csv(out)


def sum_count(F, df, by):
    """`by TAB sum(num) TAB count` per group."""
    return df.groupBy(by).agg(F.sum("num").alias("s"), F.count(F.lit(1)).alias("c"))


def wordcount(spark, F, data, out, _):
    words = spark.read.text(os.path.join(data, "corpus")).select(
        F.explode(F.split(F.col("value"), " ")).alias("w"))
    save_tsv(words.where(F.col("w") != "").groupBy("w").count(), out)


def sort(spark, F, data, out, _):
    lines = spark.read.text(os.path.join(data, "kv"))
    lines.orderBy(F.substring(F.col("value"), 1, 10)).write.text(out)


def groupby(spark, F, data, out, _):
    save_tsv(sum_count(F, kv_frame(spark, F, os.path.join(data, "kv")), "k"), out)


def skew_groupby(spark, F, data, out, _):
    save_tsv(sum_count(F, kv_frame(spark, F, os.path.join(data, "kv_skew")), "k"), out)


def skew_join(spark, F, data, out, _):
    line = F.col("value")
    dim = spark.read.text(os.path.join(data, "dim")).select(
        F.substring(line, 1, 10).alias("k"), F.substring_index(line, "\t", -1).cast("int").alias("region"))
    facts = kv_frame(spark, F, os.path.join(data, "kv_skew"))
    save_tsv(sum_count(F, facts.join(dim, "k"), "region"), out)


def pagerank(spark, F, data, out, parallelism):
    # 4 shuffle partitions per core for the iterations, as the harness's DataFrame PageRank sets
    saved = spark.conf.get("spark.sql.shuffle.partitions")
    spark.conf.set("spark.sql.shuffle.partitions", str(parallelism * 4))
    try:
        split = F.split(F.col("value"), " ")
        edges = spark.read.text(os.path.join(data, "edges")).select(
            split[0].cast("int").alias("src"), split[1].cast("int").alias("dst")).distinct()
        out_degree = edges.groupBy("src").agg(F.count(F.lit(1)).alias("n"))
        links = edges.join(out_degree, "src").select("src", "dst", (1.0 / F.col("n")).alias("w")).cache()
        ranks = out_degree.select(F.col("src").alias("id"), F.lit(1.0).alias("rank"))
        for _ in range(PR_ITERS):
            contributions = links.join(ranks, F.col("src") == F.col("id")).select(
                F.col("dst").alias("id"), (F.col("rank") * F.col("w")).alias("c"))
            ranks = contributions.groupBy("id").agg((F.sum("c") * 0.85 + 0.15).alias("rank"))
            ranks = ranks.localCheckpoint()  # each iteration's plan starts from the last ranks
        save_tsv(ranks, out)
        links.unpersist()
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", saved)


def sparkpi(spark, F, _data, _out, parallelism):
    points = spark.range(0, PI_SAMPLES, 1, parallelism * 4).select(
        (F.rand(1) * 2 - 1).alias("x"), (F.rand(2) * 2 - 1).alias("y"))
    inside = points.where(F.col("x") * F.col("x") + F.col("y") * F.col("y") <= 1).count()
    return report.check_pi(4.0 * inside / PI_SAMPLES)


WORKLOADS = {"wordcount": wordcount, "sort": sort, "groupby": groupby, "skew_groupby": skew_groupby,
             "skew_join": skew_join, "pagerank": pagerank, "sparkpi": sparkpi}


# ----------------------------------------------------------------------------- the server

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(a, log):
    port = a.port or free_port()
    env = dict(os.environ, SAIL_EXECUTION__DEFAULT_PARALLELISM=str(a.parallelism),
               SAIL_EXECUTION__CHECKPOINT__PATH="file://" + os.path.abspath(a.checkpoints))
    os.makedirs(a.checkpoints, exist_ok=True)
    proc = subprocess.Popen([sys.executable, "-m", "pysail", "spark", "server", "--ip", "127.0.0.1",
                             "--port", str(port)], env=env, stdin=subprocess.DEVNULL,
                            stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + a.start_timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the Sail server exited with status {proc.returncode} (log {a.server_log})")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc, port
        except OSError:
            time.sleep(0.1)
    proc.terminate()
    raise RuntimeError(f"the Sail server did not listen on 127.0.0.1:{port} within {a.start_timeout} s")


def stop_server(proc):
    if proc and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def builds_seen(noise, t0, t1):
    """Seconds in which compare.sh's sampler saw a cargo/rustc process between t0 and t1."""
    if not noise:
        return 0
    try:
        with open(noise) as fh:
            return sum(1 for line in fh if line.strip() and t0 <= float(line) <= t1)
    except OSError:
        return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True, help="output directories go under it, one per workload")
    ap.add_argument("--results", required=True, help="append JSON lines here")
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--parallelism", type=int, default=2, help="Sail's default parallelism (cores)")
    ap.add_argument("--port", type=int, default=0, help="0: a free one")
    ap.add_argument("--server-log", default=None, help="default: OUT/sail-server.log")
    ap.add_argument("--checkpoints", default=None, help="localCheckpoint's directory; default OUT/checkpoints")
    ap.add_argument("--start-timeout", type=float, default=120)
    ap.add_argument("--noise", default=None, help="compare.sh's file of build-seen timestamps")
    ap.add_argument("--keep-output", action="store_true")
    a = ap.parse_args()
    names = [n for n in a.workloads.replace(",", " ").split() if n]
    for n in names:
        if n not in WORKLOADS:
            sys.exit(f"unknown workload {n!r}; known: {', '.join(WORKLOADS)}")
    a.server_log = a.server_log or os.path.join(a.out, "sail-server.log")
    a.checkpoints = a.checkpoints or os.path.join(a.out, "checkpoints")
    os.makedirs(a.out, exist_ok=True)
    # a TERM (compare.sh's timeout or trap) ends the runs through `finally`, which stops the server
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    results = open(a.results, "a")

    def emit(rec):
        line = json.dumps(rec, sort_keys=True)
        print(line[:200], flush=True)
        results.write(line + "\n")
        results.flush()

    import pysail
    from importlib.metadata import version
    env = {"engine": "_sail", "version": pysail.__version__, "client": version("pyspark-client"),
           "parallelism": a.parallelism, "runs": a.runs, "workloads": names}
    proc = None
    log = open(a.server_log, "a")
    try:
        t0 = time.time()
        try:
            proc, port = start_server(a, log)
            from pyspark.sql import SparkSession
            from pyspark.sql import functions as F
            spark = SparkSession.builder.remote(f"sc://127.0.0.1:{port}").getOrCreate()
            spark.range(1).count()  # the server makes the session on the first request
        except Exception as e:
            env["error"] = f"{type(e).__name__}: {str(e)[:1000]}"
            emit(env)
            return 1
        env.update(startup_s=round(time.time() - t0, 3), port=port, spark_connect=spark.version)
        emit(env)
        for name in names:
            for run in range(1, a.runs + 1):
                out = os.path.join(a.out, name)
                shutil.rmtree(out, ignore_errors=True)
                err = check = None
                w0 = time.time()
                t = time.perf_counter()
                try:
                    check = WORKLOADS[name](spark, F, a.data, out, a.parallelism)
                except Exception as e:  # Sail's own error text is the finding
                    err = f"{type(e).__name__}: {' '.join(str(e).split())[:1000]}"
                secs = time.perf_counter() - t
                w1 = time.time()
                rec = {"engine": "sail", "workload": name, "run": run, "seconds": round(secs, 3),
                       "builds_seen": builds_seen(a.noise, w0, w1), "t0": w0}
                if err:
                    rec["error"] = err
                    if proc.poll() is not None:
                        rec["error"] += f" (the server exited with status {proc.returncode}; log {a.server_log})"
                else:
                    try:
                        rec["check"] = check or report.check_output(name, out, a.data)
                        rec["files"] = len(report.part_files(out)) if os.path.isdir(out) else 0
                    except Exception as e:  # a missing or malformed output is a finding, not a crash
                        rec["check_error"] = f"{type(e).__name__}: {e}"
                emit(rec)
                if not a.keep_output:
                    shutil.rmtree(out, ignore_errors=True)
                shutil.rmtree(a.checkpoints, ignore_errors=True)
                os.makedirs(a.checkpoints, exist_ok=True)
        try:
            spark.stop()
        except Exception:
            pass
    finally:
        stop_server(proc)
        log.close()
        results.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
