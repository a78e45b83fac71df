#!/usr/bin/env bash
# Weft under failure and memory pressure, measured on a local cluster (deploy/local-cluster.sh,
# release binaries), from the start of `weft submit` to its exit.
#
#   bench/pressure.sh recovery   WordCount of DATA/corpus (512 MiB) with 2 executors × 1 core × 2g,
#                                RUNS times undisturbed and RUNS times with one executor SIGKILLed
#                                KILL_AT seconds after submit; prints both medians and the
#                                difference (the time to recover from losing one executor). Every
#                                output must equal the undisturbed one.
#   bench/pressure.sh sort       Sort of DATA_L/kv (2 GB) with 2 executors × 1 core × 512m: wall
#                                time and bytes spilled (the driver's stage report), then Spark's
#                                Scala RDD sort (the shared harness's sort_scala) in local[2] with
#                                the same memory (a 1g driver heap), and the ratio.
#
# The cluster it starts is stopped at the end, also on failure; it kills only the executor process
# of its own application (found by its container's environment).
#
# Environment (defaults):
#   BENCH_HARNESS=/work/shared/bench  DATA=/tmp/benchdata_m  DATA_L=/tmp/benchdata_l
#   VENV=/tmp/sparkvenv  WORK=/tmp/weft-pressure  RUNS=3  KILL_AT=3  BUILD=1  SPARK=run|skip
#   WEFT_HOME=/tmp/weft-local-cluster
# DATA_L is generated if missing: gen_data.py --only kv --kv-records 20000000 --kv-keys 1000000.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
what=${1:-}
BENCH_HARNESS=${BENCH_HARNESS:-/work/shared/bench}
DATA=${DATA:-/tmp/benchdata_m}
DATA_L=${DATA_L:-/tmp/benchdata_l}
VENV=${VENV:-/tmp/sparkvenv}
WORK=${WORK:-/tmp/weft-pressure}
RUNS=${RUNS:-3}
KILL_AT=${KILL_AT:-3}
BUILD=${BUILD:-1}
SPARK=${SPARK:-run}
export WEFT_HOME=${WEFT_HOME:-/tmp/weft-local-cluster}
bin=$repo/target/release
weft=("$bin/weft" --config "$WEFT_HOME/client.yaml")
run_dir=$WORK/$(date +%Y%m%d-%H%M%S)
mkdir -p "$run_dir"
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
case $what in recovery | sort) ;; *) die "usage: bench/pressure.sh recovery|sort" ;; esac

cluster_started=0
cleanup() {
  local rc=$?
  if [ "$cluster_started" = 1 ]; then
    log "stopping the local cluster"
    WEFT_BIN_DIR=$bin "$repo/deploy/local-cluster.sh" stop >&2 || true
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ "$BUILD" = 1 ]; then
  log "building release binaries"
  (cd "$repo" && flock /tmp/weft-cargo.lock cargo build --release --bins --quiet)
  (cd "$repo" && flock /tmp/weft-cargo.lock cargo build --release -p weft-spark --example wordcount --example sort --quiet)
fi
now() { date +%s.%N; }
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# The pid of one executor of application $1: a process whose environment says it is an executor of
# one of the application's containers.
executor_pid() {
  local suffix=${1#application_} pid
  for env in /proc/[0-9]*/environ; do
    pid=${env#/proc/}; pid=${pid%/environ}
    # A process may end between the listing and the read: its environ is then unreadable.
    { tr '\0' '\n' < "$env"; } 2>/dev/null | grep -qx 'WEFT_SPARK_ROLE=executor' &&
      { tr '\0' '\n' < "$env"; } 2>/dev/null | grep -q "^CONTAINER_ID=container_${suffix}_" || continue
    echo "$pid"
    return 0
  done
  return 1
}

start_cluster() {
  log "starting the local cluster (WEFT_HOME=$WEFT_HOME)"
  cluster_started=1
  WEFT_BIN_DIR=$bin "$repo/deploy/local-cluster.sh" start >&2 || { cluster_started=0; die "the local cluster did not start"; }
}

# submit LOG ARGS… → runs weft submit (client mode), prints its wall seconds
submit() {
  local wlog=$1; shift
  local t0 t1
  t0=$(now)
  "${weft[@]}" submit --master yarn --deploy-mode client --conf spark.ui.showConsoleProgress=false "$@" \
    < /dev/null > "$wlog" 2>&1 || die "weft submit failed; see $wlog"
  t1=$(now)
  awk "BEGIN{printf \"%.3f\", $t1 - $t0}"
}

output_digest() { cat "$1"/part-* | sort | md5sum | cut -d' ' -f1; }

if [ "$what" = recovery ]; then
  [ -d "$DATA/corpus" ] || die "no $DATA/corpus: generate it as bench/compare.sh does"
  start_cluster
  layout=(--num-executors 2 --executor-cores 1 --executor-memory 2g)
  plain=() killed=() reference=
  for run in $(seq 1 "$RUNS"); do
    out=$run_dir/out-plain-$run
    secs=$(submit "$run_dir/plain-$run.log" "${layout[@]}" "$bin/examples/wordcount" "$DATA/corpus" "$out")
    digest=$(output_digest "$out"); rm -rf "$out"
    [ -z "$reference" ] && reference=$digest
    [ "$digest" = "$reference" ] || die "run $run's output differs"
    log "undisturbed run $run: $secs s"
    plain+=("$secs")
  done
  for run in $(seq 1 "$RUNS"); do
    out=$run_dir/out-killed-$run
    wlog=$run_dir/killed-$run.log
    t0=$(now)
    "${weft[@]}" submit --master yarn --deploy-mode client --conf spark.ui.showConsoleProgress=false \
      "${layout[@]}" "$bin/examples/wordcount" "$DATA/corpus" "$out" < /dev/null > "$wlog" 2>&1 &
    child=$!
    sleep "$KILL_AT"
    app=$(grep -o 'application_[0-9]*_[0-9]*' "$wlog" | head -n 1)
    [ -n "$app" ] || die "no application id in $wlog after ${KILL_AT} s"
    pid=$(executor_pid "$app") || die "no executor process of $app to kill"
    kill -KILL "$pid"
    log "killed executor pid $pid of $app at ${KILL_AT} s"
    wait "$child" || die "the run with a killed executor failed; see $wlog"
    t1=$(now)
    secs=$(awk "BEGIN{printf \"%.3f\", $t1 - $t0}")
    digest=$(output_digest "$out"); rm -rf "$out"
    [ "$digest" = "$reference" ] || die "run $run with a killed executor gave another output"
    grep -q 'ExecutorLostFailure\|Lost executor' "$wlog" || die "$wlog does not mention the lost executor"
    log "run $run with one executor killed: $secs s"
    killed+=("$secs")
  done
  a=$(printf '%s\n' "${plain[@]}" | median)
  b=$(printf '%s\n' "${killed[@]}" | median)
  printf 'WordCount %s, 2 executors x 1 core x 2g, medians of %s runs:\n' "$DATA/corpus" "$RUNS"
  printf '  undisturbed            %6.2f s   (%s)\n' "$a" "${plain[*]}"
  printf '  one executor killed    %6.2f s   (%s), at %s s\n' "$b" "${killed[*]}" "$KILL_AT"
  printf '  recovery               %6.2f s\n' "$(awk "BEGIN{print $b - $a}")"
fi

if [ "$what" = sort ]; then
  if [ ! -e "$DATA_L/MANIFEST.json" ]; then
    [ -x "$VENV/bin/python" ] || die "no $DATA_L and no $VENV (python3 -m venv $VENV && $VENV/bin/pip install pyspark==4.3.0 numpy==2.4.6)"
    log "generating $DATA_L (2 GB of kv)"
    "$VENV/bin/python" "$BENCH_HARNESS/gen_data.py" --out "$DATA_L" --only kv --kv-records 20000000 --kv-keys 1000000 >&2
  fi
  start_cluster
  out=$run_dir/out-sort
  wlog=$run_dir/sort.log
  secs=$(submit "$wlog" --num-executors 2 --executor-cores 1 --executor-memory 512m "$bin/examples/sort" "$DATA_L/kv" "$out")
  lines=$(cat "$out"/part-* | wc -l)
  expected=$(python3 -c "import json; print(json.load(open('$DATA_L/MANIFEST.json'))['kv']['records'])")
  [ "$lines" = "$expected" ] || die "sorted $lines lines of $expected"
  cat "$out"/part-* | cut -c1-10 | LC_ALL=C sort -c || die "the output is not sorted"
  rm -rf "$out"
  printf 'Weft sort of %s (%s records), 2 executors x 1 core x 512m: %s s\n' "$DATA_L/kv" "$lines" "$secs"
  printf '  spills reported by the driver:\n%s\n' "$(grep -E 'spilled' "$wlog" | sed 's/^/    /')"
  app=$(grep -o 'application_[0-9]*_[0-9]*' "$wlog" | head -n 1)
  python3 - "$app" <<'PY'
import json, sys, urllib.request
app = sys.argv[1]
attempt = app.replace("application_", "appattempt_", 1) + "_000001"
url = f"http://127.0.0.1:8088/ws/v1/cluster/apps/{app}/appattempts/{attempt}/containers"
containers = json.load(urllib.request.urlopen(url))["containers"]["container"]
for c in containers:
    print(f"  {c['containerId']}: peak RSS {c['peakPhysicalMemoryBytes'] / 2**20:.0f} MiB of "
          f"{c['physicalMemoryLimitBytes'] / 2**20:.0f} MiB, exit status {c['containerExitStatus']}")
PY
  if [ "$SPARK" = run ]; then
    log "Spark Scala RDD sort (local[2], driver memory 1g)"
    res=$run_dir/spark
    (cd "$BENCH_HARNESS" && DATA=$DATA_L RES=$res OUT=$run_dir/spark-out RUNS=1 MASTERS="local[2]" \
      ENGINES=scala SCALA_WL=sort_scala DRIVER_MEM=1g bash run_bench.sh >&2)
    spark=$(python3 -c "
import json
for line in open('$res/results.jsonl'):
    r = json.loads(line)
    if r.get('workload') == 'sort_scala' and 'seconds' in r:
        print(r['seconds'])" | tail -n 1)
    printf 'Spark Scala RDD sort, local[2], 1g driver: %s s (timed inside the job)\n' "$spark"
    printf 'Spark / Weft: %s\n' "$(awk "BEGIN{printf \"%.2f\", $spark / $secs}")"
  fi
fi
