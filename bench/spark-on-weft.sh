#!/usr/bin/env bash
# Unmodified Apache Spark (pyspark 4.3.0, Java 17) on a local Weft cluster: spark-submit's pi.py
# from submit to finished, in cluster and client mode, against the same job on Spark's own
# standalone cluster (a Master and a Worker from the same distribution, on this machine); with the
# phases of the cluster-mode run read off spark-submit's own log and the peak RSS of the
# ResourceManager and the NodeManagers.
#
#   bench/spark-on-weft.sh            RUNS=3 SLICES=20 by default
#   WEFT=0 bench/spark-on-weft.sh     Spark standalone only (STANDALONE=0: Weft only)
#
# SPARK_HOME: a pyspark 4.3.0 installation (default: the tests' cache, ~/.cache/weft/pyspark-4.3.0,
# which `cargo test -p weft-tests --test spark_submit` fills). WEFT_BIN_DIR: skip the release build.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
site=${PYSPARK_SITE:-$HOME/.cache/weft/pyspark-4.3.0}
export SPARK_HOME=${SPARK_HOME:-$site/pyspark}
export PYTHONPATH=$site
export PYSPARK_PYTHON=python3
export WEFT_HOME=${WEFT_HOME:-/tmp/weft-spark-bench}
runs=${RUNS:-3}
slices=${SLICES:-20}
out=/tmp/weft-bench/spark-$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"
[ -x "$SPARK_HOME/bin/spark-submit" ] || { echo "no pyspark at $SPARK_HOME: pip install pyspark==4.3.0 --target $site" >&2; exit 1; }
command -v java >/dev/null || { echo "java 17 must be on the PATH" >&2; exit 1; }
pi=$SPARK_HOME/examples/src/main/python/pi.py

common=(--num-executors 2 --executor-memory 1g --executor-cores 1 --driver-memory 1g)
pids=""

# Peak RSS (KiB) of each daemon in $pids while a command runs.
peak_rss() { # file
  while [ -e "$out/.sampling" ]; do
    for p in $pids; do awk '/VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null; done | paste -sd' ' >> "$1"
    sleep 0.2
  done
}

# One timed spark-submit; prints the seconds to exit and when the application was submitted and
# RUNNING, read off spark-submit's own log (kept in $out).
timed() { # label args…
  local label=$1; shift
  local log=$out/$label.log start
  start=$(date +%s.%N)
  : > "$out/.sampling"
  peak_rss "$out/$label.rss" &
  local sampler=$!
  "$SPARK_HOME/bin/spark-submit" "$@" 2>&1 | while IFS= read -r line; do
    printf '%s %s\n' "$(date +%s.%N)" "$line"
  done > "$log"
  rm -f "$out/.sampling"; wait "$sampler" || true
  local end; end=$(date +%s.%N)
  grep -q 'Pi is roughly\|final status: SUCCEEDED' "$log" || { echo "$label failed: see $log" >&2; exit 1; }
  at() { awk -v s="$start" -v p="$1" 'index($0, p) {printf "%.1f", $1 - s; exit}' "$log"; }
  printf '%-28s %6.1f s  submitted %s s, running %s s\n' "$label" "$(echo "$end - $start" | bc)" \
    "$(at 'Submitting application')" "$(at 'state: RUNNING')"
}

echo "pi.py $slices on Weft (2 NodeManagers × 4096 MB) and on Spark standalone; $runs runs each; logs in $out"
if [ "${WEFT:-1}" != 0 ]; then
  "$repo/deploy/local-cluster.sh" start
  trap '"$repo/deploy/local-cluster.sh" stop' EXIT
  export HADOOP_CONF_DIR=$WEFT_HOME/hadoop-conf
  pids=$(cat "$WEFT_HOME"/resourcemanager.pid "$WEFT_HOME"/nodemanager0.pid "$WEFT_HOME"/nodemanager1.pid)
  for r in $(seq 1 "$runs"); do
    timed "weft-cluster-archive-$r" --master yarn --deploy-mode cluster "${common[@]}" "$pi" "$slices"
    timed "weft-cluster-localjars-$r" --master yarn --deploy-mode cluster "${common[@]}" \
      --conf "spark.yarn.jars=local:$SPARK_HOME/jars/*" "$pi" "$slices"
    timed "weft-client-localjars-$r" --master yarn --deploy-mode client "${common[@]}" \
      --conf "spark.yarn.jars=local:$SPARK_HOME/jars/*" "$pi" "$slices"
  done
  awk '{for (i = 1; i <= NF; i++) if ($i > m[i]) m[i] = $i} END {printf "peak RSS: ResourceManager %d MiB, NodeManagers %d and %d MiB\n", m[1]/1024, m[2]/1024, m[3]/1024}' "$out"/weft-*.rss
  "$repo/deploy/local-cluster.sh" stop
  trap - EXIT
  pids=""
fi
[ "${STANDALONE:-1}" != 0 ] || exit 0

# Spark's own standalone cluster: a Master and a Worker with room for the same 2 × 1 GB executors.
"$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.master.Master --host 127.0.0.1 --port 7177 --webui-port 8180 > "$out/master.log" 2>&1 &
master=$!
"$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.worker.Worker --cores 2 --memory 3g --webui-port 8181 spark://127.0.0.1:7177 > "$out/worker.log" 2>&1 &
worker=$!
trap 'kill $master $worker 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do grep -q 'Successfully registered with master' "$out/worker.log" && break; sleep 0.3; done
for r in $(seq 1 "$runs"); do
  timed "standalone-client-$r" --master spark://127.0.0.1:7177 --total-executor-cores 2 --executor-cores 1 \
    --executor-memory 1g --driver-memory 1g "$pi" "$slices"
done
