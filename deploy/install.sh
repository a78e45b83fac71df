#!/usr/bin/env bash
# Installs Weft's binaries, example configs and systemd units on this host.
#   deploy/install.sh [PREFIX]      (default PREFIX=/usr/local; run as root)
# Then edit /etc/weft/*.yaml and: systemctl enable --now weft-resourcemanager (on the RM host)
#                                  systemctl enable --now weft-nodemanager     (on every worker)
set -euo pipefail
prefix=${1:-/usr/local}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
(cd "$repo" && cargo build --release --bins)
install -d "$prefix/bin" /etc/weft /var/lib/weft /var/log/weft
for bin in resourcemanager nodemanager weft; do
  install -m 0755 "$repo/target/release/$bin" "$prefix/bin/$bin"
done
for conf in resourcemanager nodemanager; do
  [ -e "/etc/weft/$conf.yaml" ] || install -m 0644 "$here/conf/$conf.yaml" "/etc/weft/$conf.yaml"
done
if [ -d /etc/systemd/system ]; then
  install -m 0644 "$here"/systemd/*.service /etc/systemd/system/
  command -v systemctl >/dev/null && systemctl daemon-reload || true
fi
echo "installed to $prefix/bin; configs in /etc/weft; units weft-resourcemanager and weft-nodemanager"
