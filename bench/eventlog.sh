#!/usr/bin/env bash
# What Spark's event log costs a Weft application, and how fast a Spark History Server lists it.
#
#   bench/eventlog.sh   WordCount of DATA/corpus (512 MiB) in local[2] (release build), RUNS times
#                       with spark.eventLog.enabled=false and RUNS times with it on (Spark 4's
#                       defaults: a rolling directory of zstd files), alternating; prints the medians,
#                       the overhead, the log's size (compressed and plain) per task; then starts
#                       Spark 4.3's History Server (pyspark's, from the test cache) on the logs and
#                       times how long it takes to list the application.
#
# Environment (defaults):
#   BENCH_HARNESS=/work/shared/bench  DATA=/tmp/benchdata_m  VENV=/tmp/sparkvenv  WORK=/tmp/weft-eventlog
#   RUNS=3  BUILD=1  SPARK_HOME=$HOME/.cache/weft/pyspark-4.3.0/pyspark (installed by the tests)
# DATA/corpus is generated if missing (gen_data.py --only corpus, 512 MiB).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
BENCH_HARNESS=${BENCH_HARNESS:-/work/shared/bench}
DATA=${DATA:-/tmp/benchdata_m}
VENV=${VENV:-/tmp/sparkvenv}
WORK=${WORK:-/tmp/weft-eventlog}
RUNS=${RUNS:-3}
BUILD=${BUILD:-1}
SPARK_HOME=${SPARK_HOME:-$HOME/.cache/weft/pyspark-4.3.0/pyspark}
bin=$repo/target/release
run_dir=$WORK/$(date +%Y%m%d-%H%M%S)
mkdir -p "$run_dir"
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
now() { date +%s.%N; }
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

shs_pid=
cleanup() {
  local rc=$?
  if [ -n "$shs_pid" ]; then
    kill "$shs_pid" 2>/dev/null || true
    wait "$shs_pid" 2>/dev/null || true
  fi
  exit "$rc"
}
trap cleanup EXIT

if [ "$BUILD" = 1 ]; then
  log "building release binaries"
  (cd "$repo" && flock /tmp/weft-cargo.lock cargo build --release -p weft-cli --bin weft --quiet)
  (cd "$repo" && flock /tmp/weft-cargo.lock cargo build --release -p weft-spark --example wordcount --quiet)
fi
if [ ! -d "$DATA/corpus" ]; then
  log "generating $DATA/corpus (512 MiB)"
  python=python3
  [ -x "$VENV/bin/python" ] && python=$VENV/bin/python
  "$python" "$BENCH_HARNESS/gen_data.py" --out "$DATA" --only corpus > "$run_dir/gen_data.log"
fi

# run NAME ON → wall seconds of one WordCount; ON is true or false
run() {
  local name=$1 on=$2 t0 t1
  local out=$run_dir/out-$name
  t0=$(now)
  "$bin/weft" submit --master 'local[2]' --name "wordcount-$name" \
    --conf spark.ui.showConsoleProgress=false --conf spark.eventLog.enabled="$on" \
    --conf spark.eventLog.dir="file://$run_dir/events" \
    "$bin/examples/wordcount" "$DATA/corpus" "$out" < /dev/null > "$run_dir/$name.log" 2>&1 ||
    die "wordcount $name failed; see $run_dir/$name.log"
  t1=$(now)
  rm -rf "$out"
  awk "BEGIN{printf \"%.3f\", $t1 - $t0}"
}

mkdir -p "$run_dir/events"
off=() on=()
for i in $(seq 1 "$RUNS"); do
  off+=("$(run "off-$i" false)")
  on+=("$(run "on-$i" true)")
  log "run $i: off ${off[-1]} s, on ${on[-1]} s"
done
a=$(printf '%s\n' "${off[@]}" | median)
b=$(printf '%s\n' "${on[@]}" | median)
compressed=$(find "$run_dir/events" -name 'events_*' -printf '%s\n' | awk '{ s += $1 } END { print s }')
command -v zstd > /dev/null || die "the zstd command is needed to read the logs (Debian: apt-get install zstd)"
plain=$(find "$run_dir/events" -name 'events_*' -exec zstd -dcq {} + | wc -c)
tasks=$(find "$run_dir/events" -name 'events_*' -exec zstd -dcq {} + | grep -c '"Event":"SparkListenerTaskEnd"' || true)

printf 'WordCount %s in local[2], medians of %s runs:\n' "$DATA/corpus" "$RUNS"
printf '  event log off   %6.2f s   (%s)\n' "$a" "${off[*]}"
printf '  event log on    %6.2f s   (%s)\n' "$b" "${on[*]}"
awk "BEGIN{printf \"  overhead        %+6.2f s  (%+.1f %%)\n\", $b - $a, ($b - $a) / $a * 100}"
if [ "${tasks:-0}" -gt 0 ]; then
  awk "BEGIN{printf \"  log size        %d B zstd, %d B plain, over %d tasks: %.0f B zstd / %.0f B plain per task\n\", \
    $compressed, $plain, $tasks, $compressed / $tasks, $plain / $tasks}"
fi

[ -x "$SPARK_HOME/bin/spark-class" ] || die "no Spark at $SPARK_HOME: run the tests once (they install pyspark) or set SPARK_HOME"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$run_dir/history.properties" <<EOF
spark.history.fs.logDirectory=file:$run_dir/events
spark.history.ui.port=$port
spark.history.fs.update.interval=1s
EOF
t0=$(now)
SPARK_LOCAL_IP=127.0.0.1 "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.history.HistoryServer \
  --properties-file "$run_dir/history.properties" > "$run_dir/history-server.log" 2>&1 &
shs_pid=$!
want=$RUNS
for _ in $(seq 1 1200); do
  listed=$(curl -s "http://127.0.0.1:$port/api/v1/applications" | grep -o '"id"' | wc -l || true)
  [ "${listed:-0}" -ge "$want" ] && break
  sleep 0.1
done
t1=$(now)
[ "${listed:-0}" -ge "$want" ] || die "the History Server did not list $want applications; see $run_dir/history-server.log"
awk "BEGIN{printf \"  History Server  listed the %d logged applications %.2f s after it was started (JVM start included)\n\", $want, $t1 - $t0}"
