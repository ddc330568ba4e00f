#!/usr/bin/env bash
# Builds, once, the Kubernetes control plane the tests and the local demo run on: etcd,
# kube-apiserver, kube-controller-manager, kube-scheduler (from the k8s.io/kubernetes module with
# its staging modules replaced by their published v0.x.y twins, as any out-of-tree build does) and
# kwok (simulated nodes). Everything comes from the Go module proxy; the binaries are cached outside
# the repository, keyed by version, so a second run returns at once.
#
#   scripts/toolchain/k8s.sh          # prints the bin directory, building what is missing
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.34.4}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
KWOK_VERSION="${KWOK_VERSION:-v0.8.0}"
CACHE_ROOT="${RAYOP_CACHE:-$HOME/.cache/ray-k8s-operator}"
COREDNS_VERSION="${COREDNS_VERSION:-v1.14.7}"
BIN="$CACHE_ROOT/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION/bin"
# The control plane, the simulated nodes, and the real node's own parts (kubelet, kube-proxy,
# CoreDNS; containerd, runc and the CNI plugins come from Debian, see scripts/node/).
K8S_CMDS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy)
WANT=(etcd "${K8S_CMDS[@]}" kwok coredns)

have_all() { for b in "${WANT[@]}"; do [ -x "$BIN/$b" ] || return 1; done; }
if have_all; then echo "$BIN"; exit 0; fi

log() { echo "[toolchain/k8s] $*" >&2; }
mkdir -p "$BIN"
SRC="$CACHE_ROOT/src-k8s-$K8S_VERSION"
mkdir -p "$SRC"
export GOFLAGS="${GOFLAGS:-} -trimpath"
export CGO_ENABLED=0
start=$(date +%s)

minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
staging_version="v0.${K8S_VERSION#v1.}"

missing_k8s=false
for c in "${K8S_CMDS[@]}"; do [ -x "$BIN/$c" ] || missing_k8s=true; done
if $missing_k8s; then
  log "building Kubernetes $K8S_VERSION server binaries (staging modules at $staging_version)"
  cd "$SRC"
  cat > go.mod <<GOMOD
module local/k8s-build

go 1.24
GOMOD
  # Each `k8s.io/X => ./staging/src/k8s.io/X` line of the upstream go.mod becomes `k8s.io/X => k8s.io/X v0.N.M`.
  upstream_mod="$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')"
  {
    echo "replace ("
    sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#\t\1 => \1 '"$staging_version"'#p' "$upstream_mod"
    echo ")"
  } >> go.mod
  cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
)
GO
  go get "k8s.io/kubernetes@$K8S_VERSION" >&2
  go mod tidy >&2 || true
  vpkg=k8s.io/component-base/version
  ldflags="-s -w -X $vpkg.gitVersion=$K8S_VERSION -X $vpkg.gitMajor=1 -X $vpkg.gitMinor=$minor -X $vpkg.gitTreeState=clean -X $vpkg.buildDate=1970-01-01T00:00:00Z"
  ldflags="$ldflags -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
  for c in "${K8S_CMDS[@]}"; do
    [ -x "$BIN/$c" ] && continue
    log "go build $c"
    go build -ldflags "$ldflags" -o "$BIN/$c.tmp" "k8s.io/kubernetes/cmd/$c" && mv "$BIN/$c.tmp" "$BIN/$c"
  done
fi

if [ ! -x "$BIN/etcd" ]; then
  log "building etcd $ETCD_VERSION"
  d="$CACHE_ROOT/src-etcd-$ETCD_VERSION"; mkdir -p "$d"; cd "$d"
  printf 'module local/etcd-build\n\ngo 1.24\n' > go.mod
  cat > main.go <<'GO'
// The etcd server binary: etcd's own main, built from its published server module.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >&2
  go mod tidy >&2
  go build -ldflags "-s -w" -o "$BIN/etcd.tmp" . && mv "$BIN/etcd.tmp" "$BIN/etcd"
fi

if [ ! -x "$BIN/kwok" ]; then
  log "building kwok $KWOK_VERSION"
  GOBIN="$BIN" go install -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" >&2
fi

if [ ! -x "$BIN/coredns" ]; then
  # Cluster DNS for the real node. Only the `kubernetes` plugin is used (no upstream forwarding:
  # nothing from the pod network leaves the machine).
  log "building CoreDNS $COREDNS_VERSION"
  GOBIN="$BIN" go install -ldflags "-s -w" "github.com/coredns/coredns@$COREDNS_VERSION" >&2
fi

have_all || { log "some binaries are missing in $BIN"; exit 1; }
log "built in $(( $(date +%s) - start ))s"
echo "$BIN"
