#!/usr/bin/env bash
# Weft against Apache Spark, Sail and a single-process Rust floor, side by side on this machine.
#
# What: end-to-end wall time of Weft's example programs (driver/examples: wordcount, sort,
# groupby — also on the skewed key set —, skewjoin, pagerank, sparkpi) submitted with
# `weft submit --master yarn --deploy-mode client` to a local cluster (deploy/local-cluster.sh,
# release binaries), from the start of `weft submit` to its exit; each output is checked (record
# counts, sums, ranks, sort order, π). Then the same workloads on the same data in real Apache
# Spark (local[2]) and in the hand-written Rust baseline (2 threads), both run by the Spark/Rust
# benchmark harness in place (BENCH_HARNESS, never copied here), which times inside the job (JVM
# and SparkSession start excluded); and on Sail, a Spark Connect server in Rust, through
# bench/sail_runner.py (the same DataFrame programs, timed the same way). Prints one table; see
# bench/README.md. The local cluster it starts is stopped at the end, also on failure or Ctrl-C; it
# stops only what it started (by pid: the cluster through deploy/local-cluster.sh's pid files, its
# own children).
#
#   bench/compare.sh                               # everything, with the defaults below
#   WORKLOADS="sort pagerank" SPARK=skip bench/compare.sh
#   LAYOUTS="2x1x2g 1x2x2g" bench/compare.sh        # try both executor layouts, keep the faster
#   WEFT=skip SPARK=skip RUST=skip bench/compare.sh # Sail alone
#   python3 bench/report.py table /tmp/weft-bench/<run>   # the table again, from a finished run
#
# Environment (defaults):
#   BENCH_HARNESS=/work/shared/bench   the harness: gen_data.py, run_bench.sh, rust_baseline/, RESULTS.md
#   DATA=/tmp/benchdata_m               the data sets the workloads need are generated here if
#                                       missing (gen_data.py, reduced sizes or DATA's own)
#   VENV=/tmp/sparkvenv                 Python venv with pyspark==4.3.0 and numpy==2.4.6
#   WORK=/tmp/weft-bench                each run gets WORK/<timestamp>/ (logs, outputs, results.jsonl)
#   WORKLOADS="wordcount sort groupby skew_groupby skew_join pagerank sparkpi"
#   WEFT=run                            run | skip
#   LAYOUTS="1x2x2g"                    executors as NUMxCORESxMEMORY, space-separated; with several,
#                                       each runs and the table keeps the lowest median per workload
#   DEPLOY_MODE=client                  or cluster (then the driver's output is in `weft logs`)
#   RUNS=3                              Weft runs per workload and layout
#   WEFT_TIMEOUT=900                    seconds before a Weft run is stopped and reported as hung
#   SPARK=run                           run | results (take RESULTS.md's 2-core figures) | skip
#   SPARK_APIS="df scala"               df = DataFrame, scala = Scala RDD, py = PySpark RDD (slow)
#   SPARK_RUNS=1  SPARK_TIMEOUT=1800    (a Spark pass over the time limit falls back to RESULTS.md)
#   SAIL=                               run | skip; unset: run if SAIL_VENV has Sail or can be made
#   SAIL_VENV=/tmp/sailvenv             made here if missing: python3 -m venv, then
#                                       pip install pysail==0.7.2 pyspark-client==4.2.0 'pandas<3'
#   SAIL_RUNS=$RUNS  SAIL_PARALLELISM=2  SAIL_TIMEOUT=1800   runs per workload (one server for all);
#                                       Sail's default parallelism (partitions per plan node)
#   PI_SLICES=8                         SparkPi's slices on Weft (1e8 samples, 4 per core, as Spark's
#                                       defaultParallelism × 4)
#   RUST=run  RUST_RUNS=3               run | skip; runs per workload
#   (with several runs the table takes each engine's median; Spark's fastest API)
#   BUILD=1                             cargo build --release (under flock /tmp/weft-cargo.lock)
#   CARGO_WAIT=2400                     seconds to wait for other cargo/rustc processes before each
#                                       measured run (0: do not wait); figures taken while one ran
#                                       anyway are marked * in the table
#   WEFT_HOME=/tmp/weft-local-cluster   the local cluster's directory (logs under it)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
BENCH_HARNESS=${BENCH_HARNESS:-/work/shared/bench}
DATA=${DATA:-/tmp/benchdata_m}
VENV=${VENV:-/tmp/sparkvenv}
WORK=${WORK:-/tmp/weft-bench}
ALL_WORKLOADS="wordcount sort groupby skew_groupby skew_join pagerank sparkpi"
WORKLOADS=${WORKLOADS:-$ALL_WORKLOADS}
WEFT=${WEFT:-run}
LAYOUTS=${LAYOUTS:-"1x2x2g"}
DEPLOY_MODE=${DEPLOY_MODE:-client}
RUNS=${RUNS:-3}
WEFT_TIMEOUT=${WEFT_TIMEOUT:-900}
SPARK=${SPARK:-run}
SPARK_APIS=${SPARK_APIS:-"df scala"}
SPARK_RUNS=${SPARK_RUNS:-1}
SPARK_TIMEOUT=${SPARK_TIMEOUT:-1800}
SAIL=${SAIL:-}
SAIL_VENV=${SAIL_VENV:-/tmp/sailvenv}
SAIL_RUNS=${SAIL_RUNS:-$RUNS}
SAIL_PARALLELISM=${SAIL_PARALLELISM:-2}
SAIL_TIMEOUT=${SAIL_TIMEOUT:-1800}
PI_SLICES=${PI_SLICES:-8}
RUST=${RUST:-run}
RUST_RUNS=${RUST_RUNS:-3}
BUILD=${BUILD:-1}
CARGO_WAIT=${CARGO_WAIT:-2400}
export WEFT_HOME=${WEFT_HOME:-/tmp/weft-local-cluster}
RUST_BIN=/tmp/rust_baseline_target/release/rust_baseline
bin=$repo/target/release
weft=("$bin/weft" --config "$WEFT_HOME/client.yaml")

run_dir=$WORK/$(date +%Y%m%d-%H%M%S)
results=$run_dir/results.jsonl
mkdir -p "$run_dir/logs" "$run_dir/out"
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- the local cluster: started by us, stopped by us (even on failure) ----------------------------
cluster_started=0
monitor_pid=
child=
cleanup() {
  local rc=$?
  [ -n "$monitor_pid" ] && kill "$monitor_pid" 2>/dev/null
  if [ -n "$child" ] && kill -TERM "$child" 2>/dev/null; then # timeout(1) passes it on to its command
    log "interrupted: stopping the run in progress (pid $child)"
    wait "$child" 2>/dev/null || true
  fi
  if [ "$cluster_started" = 1 ]; then
    log "stopping the local cluster"
    WEFT_BIN_DIR=$bin "$repo/deploy/local-cluster.sh" stop || true
    cluster_started=0
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- other builds: the machine has 2 cores, a concurrent cargo build skews every figure ----------
builds_running() { pgrep -f '(^|[ /])(cargo|rustc)( |$)' >/dev/null; }
wait_for_builds() {
  [ "$CARGO_WAIT" -gt 0 ] || return 0
  local waited=0
  while builds_running; do
    [ "$waited" = 0 ] && log "waiting for other cargo/rustc processes to finish (up to ${CARGO_WAIT} s)…"
    [ "$waited" -ge "$CARGO_WAIT" ] && { log "still building after ${CARGO_WAIT} s; measuring anyway (figures marked)"; return 0; }
    sleep 10
    waited=$((waited + 10))
  done
}
# A sampler notes every second in which a build was running; a figure whose interval holds such a
# sample is marked in the table (busy T0 T1 -> how many samples fell between T0 and T1).
noise=$run_dir/builds-seen.txt
: > "$noise"
( while :; do builds_running && date +%s.%N >> "$noise"; sleep 1; done ) &
monitor_pid=$!
busy() { awk -v a="$1" -v b="$2" '$1 >= a && $1 <= b { n++ } END { print n + 0 }' "$noise"; }
now() { date +%s.%N; }

# --- inputs ----------------------------------------------------------------------------------------
read -r -a wl <<< "$WORKLOADS"
WORKLOADS="${wl[*]}" # one space between names
for w in $WORKLOADS; do
  [[ " $ALL_WORKLOADS " == *" $w "* ]] || die "unknown workload $w ($ALL_WORKLOADS)"
done
case $WEFT in run | skip) ;; *) die "WEFT=$WEFT: run or skip" ;; esac
case $SPARK in run | results | skip) ;; *) die "SPARK=$SPARK: run, results or skip" ;; esac
case $SAIL in run | skip | "") ;; *) die "SAIL=$SAIL: run or skip" ;; esac
for f in gen_data.py run_bench.sh spark_bench.py rust_baseline/Cargo.toml RESULTS.md; do
  [ -e "$BENCH_HARNESS/$f" ] || die "BENCH_HARNESS=$BENCH_HARNESS has no $f"
done
# the data sets the workloads need and DATA lacks, at DATA's sizes (else the reduced ones)
read -r -a gen_args <<< "$(python3 "$here/report.py" gen-args "$DATA" "${wl[@]}")"
if [ "${#gen_args[@]}" -gt 0 ]; then
  [ -x "$VENV/bin/python" ] || die "$DATA lacks data and there is no $VENV: python3 -m venv $VENV && $VENV/bin/pip install pyspark==4.3.0 numpy==2.4.6"
  log "generating in $DATA: gen_data.py ${gen_args[*]}"
  "$VENV/bin/python" "$BENCH_HARNESS/gen_data.py" --out "$DATA" "${gen_args[@]}" >> "$run_dir/logs/gen_data.log" 2>&1 \
    || die "gen_data.py failed (see $run_dir/logs/gen_data.log)"
fi

# Sail: its own venv, made if missing (SAIL unset: skipped, with the reason, if it cannot be made)
sail_ok() { "$SAIL_VENV/bin/python" -c 'import pysail; from pyspark.sql import SparkSession' > /dev/null 2>&1; }
sail_why=
if [ "$SAIL" != skip ] && ! sail_ok; then
  log "making Sail's venv $SAIL_VENV (pysail==0.7.2 pyspark-client==4.2.0 pandas<3)"
  if ! { python3 -m venv "$SAIL_VENV" && "$SAIL_VENV/bin/pip" install --quiet pysail==0.7.2 pyspark-client==4.2.0 'pandas<3'; } \
    > "$run_dir/logs/sail-venv.log" 2>&1 || ! sail_ok; then
    sail_why="Sail's venv $SAIL_VENV could not be made (see $run_dir/logs/sail-venv.log)"
    [ "$SAIL" = run ] && die "$sail_why"
    log "$sail_why; Sail skipped"
  fi
fi
[ -z "$SAIL" ] && { [ -z "$sail_why" ] && SAIL=run || SAIL=skip; }

# --- build (always through the shared lock) ---------------------------------------------------------
if [ "$BUILD" = 1 ]; then
  log "building release binaries (daemons, weft, examples)"
  (cd "$repo" && flock /tmp/weft-cargo.lock cargo build --release --bins --quiet)
  (cd "$repo" && flock /tmp/weft-cargo.lock cargo build --release --bins -p weft-cli -p weft-spark --examples --quiet)
  if [ "$RUST" = run ] && [ ! -x "$RUST_BIN" ]; then
    (cd "$BENCH_HARNESS/rust_baseline" && flock /tmp/weft-cargo.lock \
      env CARGO_TARGET_DIR=/tmp/rust_baseline_target cargo build --release --quiet)
  fi
fi
for b in weft resourcemanager nodemanager; do [ -x "$bin/$b" ] || die "no $bin/$b (BUILD=1 builds it)"; done
example() { # workload -> its example program
  case $1 in skew_groupby) echo groupby ;; skew_join) echo skewjoin ;; *) echo "$1" ;; esac
}
if [ "$WEFT" = run ]; then
  for w in $WORKLOADS; do [ -x "$bin/examples/$(example "$w")" ] || die "no example binary $bin/examples/$(example "$w")"; done
fi

{
  printf '{"engine": "_env", "commit": "%s", "dirty": %s, "nproc": %s, "kernel": "%s", "rustc": "%s", "java": "%s", "data": "%s", "layouts": "%s", "deploy_mode": "%s", "harness": "%s", "workloads": "%s"}\n' \
    "$(git -C "$repo" rev-parse --short HEAD)" \
    "$([ -n "$(git -C "$repo" status --porcelain --untracked-files=no)" ] && echo true || echo false)" \
    "$(nproc)" "$(uname -r)" "$(rustc --version 2>/dev/null || echo '?')" \
    "$(java -version 2>&1 | head -n 1 | tr -d '"')" "$DATA" "$LAYOUTS" "$DEPLOY_MODE" "$BENCH_HARNESS" "$WORKLOADS"
} >> "$results"

# --- Weft ------------------------------------------------------------------------------------------
args_for() { # workload OUTPUT -> ex_args, the example's arguments
  case $1 in
    wordcount) ex_args=("$DATA/corpus" "$2") ;;
    sort | groupby) ex_args=("$DATA/kv" "$2") ;;
    skew_groupby) ex_args=("$DATA/kv_skew" "$2") ;;
    skew_join) ex_args=("$DATA/kv_skew" "$DATA/dim" "$2") ;;
    pagerank) ex_args=("$DATA/edges" 10 "$2") ;;
    sparkpi) ex_args=("$PI_SLICES" 100000000) ;; # the harness's n = 1e8; π is in the log
  esac
}

weft_layouts=
if [ "$WEFT" = run ]; then
  weft_layouts=$LAYOUTS
  wait_for_builds
  log "starting the local cluster (WEFT_HOME=$WEFT_HOME)"
  cluster_started=1
  WEFT_BIN_DIR=$bin "$repo/deploy/local-cluster.sh" start >&2 || { cluster_started=0; die "the local cluster did not start"; }
fi

for layout in $weft_layouts; do
  IFS=x read -r n_exec exec_cores exec_mem <<< "$layout"
  [ -n "$exec_mem" ] || die "layout $layout: want NUMxCORESxMEMORY, e.g. 2x1x2g"
  for w in $WORKLOADS; do
    for run in $(seq 1 "$RUNS"); do
      out=$run_dir/out/weft-$w
      wlog=$run_dir/logs/weft-$w-$layout-$run.log
      rm -rf "$out"
      wait_for_builds
      args_for "$w" "$out"
      cmd=("${weft[@]}" submit --master yarn --deploy-mode "$DEPLOY_MODE" --name "bench-$w"
        --num-executors "$n_exec" --executor-cores "$exec_cores" --executor-memory "$exec_mem"
        --conf spark.ui.showConsoleProgress=false "$bin/examples/$(example "$w")" "${ex_args[@]}")
      log "weft $w ($layout, run $run): ${cmd[*]}"
      echo "\$ ${cmd[*]}" > "$wlog"
      t0=$(now)
      set +e
      # in the background, so that a signal to this script is handled at once (see cleanup); with
      # umask 0: run as root, the NodeManagers start executors as nobody, and they write into the
      # output directory the driver (here, as this user) creates
      (umask 0000 && exec timeout -k 30 "$WEFT_TIMEOUT" "${cmd[@]}" < /dev/null >> "$wlog" 2>&1) &
      child=$!
      wait "$child"
      rc=$?
      child=
      set -e
      t1=$(now)
      secs=$(awk "BEGIN{printf \"%.3f\", $t1 - $t0}")
      log "  exit $rc after $secs s; checking the output"
      python3 "$here/report.py" weft-record --workload "$w" --layout "$layout" --run "$run" \
        --seconds "$secs" --exit "$rc" --t0 "$t0" --log "$wlog" --out "$out" --data "$DATA" \
        --timed-out "$([ "$rc" = 124 ] || [ "$rc" = 137 ] && echo true || echo false)" \
        --builds-seen "$(busy "$t0" "$t1")" --rm 127.0.0.1:8088 >> "$results"
      tail -n 1 "$results" | cut -c1-200 >&2
      rm -rf "$out"
    done
  done
done
if [ "$cluster_started" = 1 ]; then
  log "stopping the local cluster"
  WEFT_BIN_DIR=$bin "$repo/deploy/local-cluster.sh" stop >&2
  cluster_started=0
fi

# --- Spark (the harness, in place) ------------------------------------------------------------------
spark_wl() { # api -> the harness's workload names for our workloads
  local api=$1 w names=()
  for w in $WORKLOADS; do
    case "$api:$w" in
      df:groupby) names+=(groupby_df) ;;
      py:groupby) names+=(groupby_reducebykey_rdd) ;;
      scala:groupby) names+=(groupby_reducebykey_scala) ;;
      py:skew_groupby) names+=(skew_groupbykey_rdd) ;; # the harness's skewed RDD variants group by key
      scala:skew_groupby) names+=(skew_groupbykey_scala) ;;
      df:*) names+=("${w}_df") ;;
      py:*) names+=("${w}_rdd") ;;
      scala:*) names+=("${w}_scala") ;;
    esac
  done
  (IFS=,; echo "${names[*]}")
}
if [ "$SPARK" = run ]; then
  [ -x "$VENV/bin/spark-submit" ] || die "no $VENV/bin/spark-submit (pip install pyspark==4.3.0), or SPARK=results"
  py_wl="" engines=""
  for api in $SPARK_APIS; do
    case $api in
      df | py) py_wl=${py_wl:+$py_wl,}$(spark_wl "$api"); [[ " $engines " == *" py "* ]] || engines+=" py" ;;
      scala) engines+=" scala" ;;
      *) die "SPARK_APIS: unknown $api (df scala py)" ;;
    esac
  done
  wait_for_builds
  log "Spark local[2] ($SPARK_APIS) through $BENCH_HARNESS/run_bench.sh"
  t0=$(now)
  set +e
  DATA=$DATA VENV=$VENV RES=$run_dir/spark OUT=$run_dir/out/spark RUNS=$SPARK_RUNS MASTERS="local[2]" \
    ENGINES=$engines PY_WL=$py_wl SCALA_WL=$(spark_wl scala) TAG=weft-compare \
    timeout -k 60 "$SPARK_TIMEOUT" bash "$BENCH_HARNESS/run_bench.sh" < /dev/null > "$run_dir/logs/spark.log" 2>&1 &
  child=$!
  wait "$child"
  rc=$?
  child=
  set -e
  t1=$(now)
  [ "$rc" = 0 ] || log "Spark pass ended with status $rc (see $run_dir/logs/spark.log); RESULTS.md fills the gaps"
  [ -e "$run_dir/spark/results.jsonl" ] && cat "$run_dir/spark/results.jsonl" >> "$results"
  echo "{\"engine\": \"_spark_pass\", \"exit\": $rc, \"seconds\": $(awk "BEGIN{print $t1 - $t0}"), \"builds_seen\": $(busy "$t0" "$t1")}" >> "$results"
fi

# --- Sail (bench/sail_runner.py: one Spark Connect server, the DataFrame programs) --------------------
if [ "$SAIL" = run ]; then
  wait_for_builds
  log "Sail ($SAIL_VENV, parallelism $SAIL_PARALLELISM, $SAIL_RUNS runs) through bench/sail_runner.py"
  set +e
  timeout -k 60 "$SAIL_TIMEOUT" "$SAIL_VENV/bin/python" "$here/sail_runner.py" --data "$DATA" \
    --out "$run_dir/out/sail" --results "$results" --workloads "$WORKLOADS" --runs "$SAIL_RUNS" \
    --parallelism "$SAIL_PARALLELISM" --server-log "$run_dir/logs/sail-server.log" --noise "$noise" \
    < /dev/null > "$run_dir/logs/sail.log" 2>&1 &
  child=$!
  wait "$child"
  rc=$?
  child=
  set -e
  [ "$rc" = 0 ] || log "the Sail pass ended with status $rc (see $run_dir/logs/sail.log)"
  grep '"engine": "sail"' "$results" | cut -c1-200 >&2 || true
elif [ -n "$sail_why" ]; then
  echo "{\"engine\": \"_sail\", \"error\": \"$sail_why\"}" >> "$results"
fi

# --- Rust baseline ----------------------------------------------------------------------------------
if [ "$RUST" = run ]; then
  [ -x "$RUST_BIN" ] || die "no $RUST_BIN (BUILD=1 builds it)"
  wait_for_builds
  for w in $WORKLOADS; do
    rw=$w; [ "$w" = groupby ] && rw=groupby_reducebykey
    log "Rust baseline $rw, 2 threads"
    t0=$(now)
    "$RUST_BIN" --data "$DATA" --out "$run_dir/out/rust" --threads 2 --workloads "$rw" --runs "$RUST_RUNS" \
      --results "$results" --tag weft-compare > /dev/null
    echo "{\"engine\": \"_rust_noise\", \"workload\": \"$rw\", \"builds_seen\": $(busy "$t0" "$(now)")}" >> "$results"
  done
fi

python3 "$here/report.py" table "$run_dir" --spark-mode "$SPARK" --results-md "$BENCH_HARNESS/RESULTS.md" \
  | tee "$run_dir/table.md"
log "everything is in $run_dir (results.jsonl, logs/, table.md)"
