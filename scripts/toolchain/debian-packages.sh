#!/usr/bin/env bash
# Installs, once, the Debian packages the real node and the image builds use: containerd, runc and the
# CNI plugins (the node's runtime and pod network), iptables and nftables (its firewall chain and the
# cleanup of what kube-proxy and the kubelet add), buildah and debootstrap (images without a
# registry). Does nothing when all are there; needs root otherwise.
#
#   scripts/toolchain/debian-packages.sh
set -euo pipefail

PACKAGES=(containerd runc containernetworking-plugins iptables nftables buildah debootstrap)
missing=()
for p in "${PACKAGES[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "[toolchain/debian] missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "[toolchain/debian] installing ${missing[*]}" >&2
apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
