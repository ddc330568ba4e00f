#!/usr/bin/env bash
# Builds, once, KubeRay's operator, the one users would pick instead of this one, for `npm run bench`
# to measure beside it on the same control plane (#15): the `ray-operator` binary of the module
# github.com/ray-project/kuberay/ray-operator at $KUBERAY_VERSION, from the Go module proxy (nothing
# from GitHub releases or a container registry), with the CRDs and the ClusterRole that module ships
# (config/crd/bases, config/rbac/role.yaml). Cached outside the repository, keyed by version, so a
# second run returns at once. The benchmark calls it when the binary is missing (not with
# BENCH_PEER=none); CI does not: the benchmark is not part of it.
#
#   scripts/toolchain/kuberay.sh      # prints the directory: bin/ray-operator, crd/*.yaml, rbac/role.yaml
set -euo pipefail

KUBERAY_VERSION="${KUBERAY_VERSION:-v1.5.0}"
CACHE_ROOT="${RAYOP_CACHE:-$HOME/.cache/ray-k8s-operator}"
DIR="$CACHE_ROOT/kuberay-$KUBERAY_VERSION"
MODULE=github.com/ray-project/kuberay/ray-operator

have_all() {
  [ -x "$DIR/bin/ray-operator" ] && [ -s "$DIR/crd/ray.io_rayclusters.yaml" ] && [ -s "$DIR/rbac/role.yaml" ]
}
if have_all; then echo "$DIR"; exit 0; fi

log() { echo "[toolchain/kuberay] $*" >&2; }
mkdir -p "$DIR/bin" "$DIR/crd" "$DIR/rbac"
export GOFLAGS="${GOFLAGS:-} -trimpath"
export CGO_ENABLED=0
# Stay out of the way of anything else running on this 2-core machine.
NICE=(nice -n "${RAYOP_NICE:-15}")
start=$(date +%s)

# mod_json FIELD: a field of `go mod download -json` for the module (Dir: its read-only source; GoMod: its go.mod).
mod_json() { go mod download -json "$MODULE@$KUBERAY_VERSION" | sed -n 's/^\s*"'"$1"'": "\(.*\)",$/\1/p'; }

if [ ! -x "$DIR/bin/ray-operator" ]; then
  log "building KubeRay's operator $MODULE@$KUBERAY_VERSION"
  t0=$(date +%s)
  # `go install module@version` refuses a module whose go.mod has replace directives; then build it
  # from a main module of our own that requires it, with those replacements copied over.
  if grep -q '^replace\|^\s*replace (' "$(mod_json GoMod)"; then
    log "its go.mod has replace directives: go build in a wrapper module instead of go install"
    src="$CACHE_ROOT/src-kuberay-$KUBERAY_VERSION"
    mkdir -p "$src"; cd "$src"
    rm -f go.mod go.sum
    printf 'module local/kuberay-build\n\ngo 1.24\n' > go.mod
    sed -n 's#^replace \(\S\+\) => \([^./]\S*\) \(v\S\+\)$#replace \1 => \2 \3#p' "$(mod_json GoMod)" >> go.mod
    "${NICE[@]}" go get "$MODULE@$KUBERAY_VERSION" >&2
    "${NICE[@]}" go build -ldflags "-s -w" -o "$DIR/bin/ray-operator.tmp" "$MODULE" >&2
    mv "$DIR/bin/ray-operator.tmp" "$DIR/bin/ray-operator"
  else
    GOBIN="$DIR/bin" "${NICE[@]}" go install -ldflags "-s -w" "$MODULE@$KUBERAY_VERSION" >&2
  fi
  log "ray-operator built in $(( $(date +%s) - t0 ))s"
fi

# The CRDs the operator serves (its RayJob and RayService controllers start too, and a controller
# whose kind the API server does not know stops the manager) and the ClusterRole it is deployed with.
src_dir="$(mod_json Dir)"
cp "$src_dir"/config/crd/bases/*.yaml "$DIR/crd/"
cp "$src_dir/config/rbac/role.yaml" "$DIR/rbac/role.yaml"
chmod -R u+w "$DIR/crd" "$DIR/rbac"

have_all || { log "something is missing in $DIR"; exit 1; }
log "ready in $(( $(date +%s) - start ))s"
echo "$DIR"
