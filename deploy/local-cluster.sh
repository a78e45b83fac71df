#!/usr/bin/env bash
# A local Weft cluster on this machine: one ResourceManager on YARN's default ports and two
# NodeManagers, each with 4096 MB and 4 vcores.
#
#   deploy/local-cluster.sh demo     build, start, run a 3-container shell application and a Spark
#                                    WordCount (weft submit), show them, stop
#   deploy/local-cluster.sh start    build and start; prints where the logs and the web UI are
#   deploy/local-cluster.sh status   weft node -list and application -list
#   deploy/local-cluster.sh stop     stop every daemon it started (by pid)
#
# WEFT_HOME (default /tmp/weft-local-cluster) holds configs, pids, logs and data.
# WEFT_BIN_DIR skips the build and takes the binaries from there.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
home=${WEFT_HOME:-/tmp/weft-local-cluster}
bin=${WEFT_BIN_DIR:-$repo/target/release}
weft=("$bin/weft" --config "$home/client.yaml")

build() {
  if [ -z "${WEFT_BIN_DIR:-}" ]; then
    echo "building release binaries (cargo build --release --bins --example wordcount)…"
    (cd "$repo" && cargo build --release --bins --example wordcount --quiet)
  fi
}

write_configs() {
  mkdir -p "$home"
  cat > "$home/resourcemanager.yaml" <<YAML
hadoop.tmp.dir: $home/rm
YAML
  cat > "$home/client.yaml" <<YAML
yarn.resourcemanager.address: 127.0.0.1:8032
yarn.resourcemanager.scheduler.address: 127.0.0.1:8030
yarn.resourcemanager.webapp.address: 127.0.0.1:8088
YAML
  local i ports
  for i in 0 1; do
    ports=$(( i == 0 ? 8041 : 8051 ))
    cat > "$home/nodemanager$i.yaml" <<YAML
yarn.nodemanager.address: 127.0.0.1:$ports
yarn.nodemanager.webapp.address: 127.0.0.1:$((ports + 1))
yarn.nodemanager.resource.memory-mb: 4096
yarn.nodemanager.resource.cpu-vcores: 4
yarn.nodemanager.local-dirs: $home/nm$i/local
yarn.nodemanager.log-dirs: $home/nm$i/logs
# Two NodeManagers on one host: each needs its own cgroup hierarchy.
yarn.nodemanager.linux-container-executor.cgroups.hierarchy: hadoop-yarn-nm$i
# JVMs (spark-submit's AMs and executors) reserve several times the address space they use;
# physical memory stays enforced.
yarn.nodemanager.vmem-check-enabled: false
YAML
  done
}

launch() { # name binary config
  "$bin/$2" --config "$home/$3" >"$home/$1.log" 2>&1 &
  echo $! >"$home/$1.pid"
}

start() {
  build
  if [ -e "$home/resourcemanager.pid" ] && kill -0 "$(cat "$home/resourcemanager.pid")" 2>/dev/null; then
    echo "a local cluster is already running (WEFT_HOME=$home); stop it first" >&2
    exit 1
  fi
  write_configs
  local started
  started=$(date +%s%N)
  launch resourcemanager resourcemanager resourcemanager.yaml
  launch nodemanager0 nodemanager nodemanager0.yaml
  launch nodemanager1 nodemanager nodemanager1.yaml
  for _ in $(seq 1 300); do
    if "${weft[@]}" node -list 2>/dev/null | grep -q '^Total Nodes:2'; then
      echo "local cluster up in $((($(date +%s%N) - started) / 1000000)) ms: ResourceManager web UI http://127.0.0.1:8088/cluster"
      "${weft[@]}" hadoop-conf "$home/hadoop-conf" >/dev/null
      echo "Hadoop clients: export HADOOP_CONF_DIR=$home/hadoop-conf"
      echo "logs in $home/*.log; stop with: $0 stop"
      return 0
    fi
    for d in resourcemanager nodemanager0 nodemanager1; do
      if ! kill -0 "$(cat "$home/$d.pid")" 2>/dev/null; then
        echo "$d exited; the end of $home/$d.log:" >&2
        tail -n 20 "$home/$d.log" >&2
        stop
        exit 1
      fi
    done
    sleep 0.1
  done
  echo "the NodeManagers did not register within 30 s; see $home/*.log" >&2
  stop
  exit 1
}

stop() {
  local d pid
  for d in nodemanager0 nodemanager1 resourcemanager; do
    [ -e "$home/$d.pid" ] || continue
    pid=$(cat "$home/$d.pid")
    if kill -TERM "$pid" 2>/dev/null; then
      for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$home/$d.pid"
  done
  # The NodeManagers leave their (empty) cgroup hierarchies behind, as YARN does; remove ours.
  rmdir /sys/fs/cgroup/*/hadoop-yarn-nm0 /sys/fs/cgroup/*/hadoop-yarn-nm1 2>/dev/null || true
}

status() {
  "${weft[@]}" node -list -all
  "${weft[@]}" application -list -appStates ALL
}

demo() {
  start
  trap stop EXIT
  echo
  echo "\$ weft shell --num-containers 3 --container-memory 512m --container-vcores 1 -- sh -c 'echo hello from \$CONTAINER_ID on \$NM_HOST:\$NM_PORT'"
  "${weft[@]}" shell --num-containers 3 --container-memory 512m --container-vcores 1 -- \
    sh -c 'echo hello from $CONTAINER_ID on $NM_HOST:$NM_PORT'
  local app
  app=$("${weft[@]}" application -list -appStates ALL | grep -o 'application_[0-9]*_[0-9]*' | tail -n 1)
  echo
  echo "\$ weft logs -applicationId $app   (stdout of the shell containers)"
  "${weft[@]}" logs -applicationId "$app" | grep -E '^(Container:|hello from)' | awk '!seen[$0]++' || true
  echo
  # A Spark program: WordCount over a small text, submitted like spark-submit on YARN.
  local data="$home/wordcount"
  rm -rf "$data" && mkdir -p "$data"
  # Run as root, the NodeManagers start containers as nobody: the job's directory must be theirs too.
  chmod 1777 "$data"
  for i in $(seq 1 2000); do echo "the quick brown fox jumps over the lazy dog $((i % 7))"; done > "$data/input.txt"
  echo "\$ weft submit --master yarn --deploy-mode cluster --num-executors 2 --executor-memory 512m --executor-cores 1 \\"
  echo "    target/release/examples/wordcount $data/input.txt $data/counts"
  "${weft[@]}" submit --master yarn --deploy-mode cluster --name wordcount --num-executors 2 \
    --executor-memory 512m --executor-cores 1 "$bin/examples/wordcount" "$data/input.txt" "$data/counts"
  echo "\$ sort $data/counts/part-* | head -5"
  sort "$data"/counts/part-* | head -5
  echo
  status
}

case "${1:-}" in
  demo) demo ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 64 ;;
esac
