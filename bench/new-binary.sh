#!/usr/bin/env bash
# What an application whose binary the cluster has not seen costs beside a warm one: SparkPi with 2
# slices (2 executors × 1 core, cluster mode) on the local cluster (deploy/local-cluster.sh, release
# binaries), submit → exit of `weft submit`. A cold run submits a fresh copy of the example with
# bytes of its own run appended (a new sha256: hashed, uploaded, stored, downloaded and linked on
# each node, as a new build is); a warm run submits the same file again. Alternating, RUNS of each; prints each time and
# the medians, and the example's size.
#
#   bench/new-binary.sh              build the release binaries, then measure
#   BUILD=0 RUNS=5 bench/new-binary.sh
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-5}
export WEFT_HOME=${WEFT_HOME:-/tmp/weft-new-binary-bench}
bin=$repo/target/release
if [ "${BUILD:-1}" = 1 ]; then
  (cd "$repo" && cargo build --release --bins --example sparkpi --quiet)
fi
work=$(mktemp -d /tmp/weft-new-binary.XXXXXX)
chmod 755 "$work"
cleanup() {
  WEFT_BIN_DIR=$bin "$repo/deploy/local-cluster.sh" stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
WEFT_BIN_DIR=$bin "$repo/deploy/local-cluster.sh" start >/dev/null
weft=("$bin/weft" --config "$WEFT_HOME/client.yaml")

submit() {
  local start end
  start=$(date +%s.%N)
  "${weft[@]}" submit --master yarn --deploy-mode cluster --name sparkpi --num-executors 2 \
    --executor-memory 512m --executor-cores 1 --driver-memory 512m "$1" 2 >"$work/out" 2>&1 \
    || { cat "$work/out" >&2; exit 1; }
  end=$(date +%s.%N)
  echo "$end - $start" | bc
}

cp "$bin/examples/sparkpi" "$work/sparkpi-warm"
submit "$work/sparkpi-warm" >/dev/null   # the warm file is staged and cached once
cold=() warm=()
for i in $(seq "$runs"); do
  cp "$bin/examples/sparkpi" "$work/sparkpi-$i"
  # bytes of this run only: the same appended byte every run would be a file the store and this
  # user already hold from the first run
  printf 'cold %s %s %s' "$i" "$$" "$(date +%s%N)" >>"$work/sparkpi-$i"
  c=$(submit "$work/sparkpi-$i"); w=$(submit "$work/sparkpi-warm")
  cold+=("$c"); warm+=("$w")
  echo "run $i: cold ${c}s, warm ${w}s"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "sparkpi size: $(stat -c %s "$bin/examples/sparkpi") bytes"
echo "median cold $(median "${cold[@]}")s, warm $(median "${warm[@]}")s over $runs runs each"
