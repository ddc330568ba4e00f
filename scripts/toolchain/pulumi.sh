#!/usr/bin/env bash
# Builds, once, the Pulumi toolchain that installs the operator: the `pulumi` CLI, the Node.js
# language host `pulumi-language-nodejs` and the Kubernetes resource provider
# `pulumi-resource-kubernetes`. Everything comes from the Go module proxy (nothing from GitHub
# releases or get.pulumi.com); the binaries are cached outside the repository, keyed by version,
# so a second run returns at once.
#
#   scripts/toolchain/pulumi.sh                   # prints the bin directory, building what is missing
#   scripts/toolchain/pulumi.sh --install-plugin  # also puts the provider in $PULUMI_HOME's plugin cache
#
# How the CLI finds its plugins without downloading anything: it always runs the language host from
# beside its own binary. For the provider, either put the bin directory on PATH (the provider is
# then used as an "ambient" plugin, with a "using pulumi-resource-kubernetes from $PATH" warning on
# each run), or use --install-plugin (`pulumi plugin install --file` into ${PULUMI_HOME:-~/.pulumi})
# and run with PULUMI_IGNORE_AMBIENT_PLUGINS=true or without the bin directory on PATH. The provider
# reports version $PULUMI_K8S_PROVIDER_VERSION, which must equal the @pulumi/kubernetes npm version
# in package.json: the SDK asks the engine for exactly that plugin version.
#
# Where each binary comes from:
#  - pulumi: github.com/pulumi/pulumi/pkg/v3 (package cmd/pulumi) at $PULUMI_CLI_VERSION.
#  - pulumi-language-nodejs: its own module (github.com/pulumi/pulumi/sdk/nodejs/cmd/
#    pulumi-language-nodejs/v3) is refused by the proxy at every version, so it is built from the
#    last github.com/pulumi/pulumi/sdk/v3 release that still carried it as a package,
#    $PULUMI_NODEJS_HOST_VERSION (later releases split it into that separate module).
#  - pulumi-resource-kubernetes: github.com/pulumi/pulumi-kubernetes/provider/v4 has no release
#    tags of its own; the proxy serves the pseudo-version $PULUMI_K8S_PROVIDER_MODULE_VERSION,
#    the tree one day before the v4.25.0 tag (same schema as the published 4.25.0 SDKs). Its main
#    package embeds schema-embed.json, which upstream's `go generate` writes from schema.json;
#    the script does the same in a local copy of that package.
set -euo pipefail

PULUMI_CLI_VERSION="${PULUMI_CLI_VERSION:-v3.248.0}"
PULUMI_NODEJS_HOST_VERSION="${PULUMI_NODEJS_HOST_VERSION:-v3.68.0}"
PULUMI_K8S_PROVIDER_VERSION="${PULUMI_K8S_PROVIDER_VERSION:-4.25.0}"
PULUMI_K8S_PROVIDER_MODULE_VERSION="${PULUMI_K8S_PROVIDER_MODULE_VERSION:-v4.0.0-20260115033456-f47bc2d6f199}"
CACHE_ROOT="${RAYOP_CACHE:-$HOME/.cache/ray-k8s-operator}"
BIN="$CACHE_ROOT/pulumi-$PULUMI_CLI_VERSION-nodejs-$PULUMI_NODEJS_HOST_VERSION-kubernetes-v$PULUMI_K8S_PROVIDER_VERSION/bin"
WANT=(pulumi pulumi-language-nodejs pulumi-resource-kubernetes)

INSTALL_PLUGIN=false
for arg in "$@"; do
  case "$arg" in
    --install-plugin) INSTALL_PLUGIN=true ;;
    *) echo "usage: $0 [--install-plugin]" >&2; exit 2 ;;
  esac
done

have_all() { for b in "${WANT[@]}"; do [ -x "$BIN/$b" ] || return 1; done; }
# The provider in the CLI's plugin cache, copied there once (and again only if it differs).
install_plugin() {
  local dest="${PULUMI_HOME:-$HOME/.pulumi}/plugins/resource-kubernetes-v$PULUMI_K8S_PROVIDER_VERSION/pulumi-resource-kubernetes"
  [ -x "$dest" ] && cmp -s "$dest" "$BIN/pulumi-resource-kubernetes" && return 0
  echo "[toolchain/pulumi] installing the kubernetes plugin v$PULUMI_K8S_PROVIDER_VERSION into ${dest%/*/*}" >&2
  PULUMI_SKIP_UPDATE_CHECK=true "$BIN/pulumi" plugin install resource kubernetes "v$PULUMI_K8S_PROVIDER_VERSION" \
    --file "$BIN/pulumi-resource-kubernetes" --reinstall >&2
}
if have_all; then
  if $INSTALL_PLUGIN; then install_plugin; fi
  echo "$BIN"; exit 0
fi

log() { echo "[toolchain/pulumi] $*" >&2; }
mkdir -p "$BIN"
export GOFLAGS="${GOFLAGS:-} -trimpath"
export CGO_ENABLED=0
# Stay out of the way of anything else building on this 2-core machine (e.g. scripts/toolchain/k8s.sh).
NICE=(nice -n "${RAYOP_NICE:-15}")
start=$(date +%s)

# mod_dir MODULE@VERSION: the read-only directory of that module in the module cache.
mod_dir() { go mod download -json "$1" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p'; }
# replaces MODULE@VERSION: its go.mod's replace directives that point at other modules (the ones
# pointing at sibling directories of its repository are dropped: the wrapper requires those
# siblings by version instead).
replaces() {
  local gomod
  gomod="$(go mod download -json "$1" | sed -n 's/^\s*"GoMod": "\(.*\)",$/\1/p')"
  sed -n 's#^replace \(\S\+\) => \([^./]\S*\) \(v\S\+\)$#replace \1 => \2 \3#p' "$gomod"
}
# wrapper DIR NAME: an empty main module in DIR to build from.
wrapper() {
  mkdir -p "$1"; cd "$1"
  rm -f go.mod go.sum
  printf 'module local/%s\n\ngo 1.24\n' "$2" > go.mod
}
# build OUT PKG LDFLAGS: go build into $BIN atomically.
build() {
  local t0=$(date +%s)
  log "go build $1"
  "${NICE[@]}" go build -ldflags "-s -w $3" -o "$BIN/$1.tmp" "$2" >&2
  mv "$BIN/$1.tmp" "$BIN/$1"
  log "$1 built in $(( $(date +%s) - t0 ))s"
}

VERSION_PKG=github.com/pulumi/pulumi/sdk/v3/go/common/version

if [ ! -x "$BIN/pulumi" ]; then
  log "building the Pulumi CLI $PULUMI_CLI_VERSION"
  wrapper "$CACHE_ROOT/src-pulumi-cli-$PULUMI_CLI_VERSION" pulumi-cli-build
  replaces "github.com/pulumi/pulumi/pkg/v3@$PULUMI_CLI_VERSION" >> go.mod
  # pkg/v3 replaces sdk/v3 with its sibling directory: take the sdk released with it.
  "${NICE[@]}" go get "github.com/pulumi/pulumi/pkg/v3@$PULUMI_CLI_VERSION" \
    "github.com/pulumi/pulumi/sdk/v3@$PULUMI_CLI_VERSION" >&2
  "${NICE[@]}" go get "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@$PULUMI_CLI_VERSION" >&2
  build pulumi github.com/pulumi/pulumi/pkg/v3/cmd/pulumi "-X $VERSION_PKG.Version=$PULUMI_CLI_VERSION"
fi

if [ ! -x "$BIN/pulumi-language-nodejs" ]; then
  log "building the Node.js language host from github.com/pulumi/pulumi/sdk/v3@$PULUMI_NODEJS_HOST_VERSION"
  wrapper "$CACHE_ROOT/src-pulumi-nodejs-$PULUMI_NODEJS_HOST_VERSION" pulumi-nodejs-build
  replaces "github.com/pulumi/pulumi/sdk/v3@$PULUMI_NODEJS_HOST_VERSION" >> go.mod
  "${NICE[@]}" go get "github.com/pulumi/pulumi/sdk/v3@$PULUMI_NODEJS_HOST_VERSION" >&2
  # A local copy of the main package with one change: that host hands the Node.js program the address
  # of a resource-monitor proxy of its own, which only forwards the RPCs that existed in 2023, so a
  # current @pulumi/pulumi calling a newer one (RegisterStackTransform for
  # pulumi.runtime.registerResourceTransform, RegisterPackage, resource hooks, ...) fails with
  # "unimplemented". The program is given the engine's own monitor address instead.
  src="$(mod_dir "github.com/pulumi/pulumi/sdk/v3@$PULUMI_NODEJS_HOST_VERSION")/nodejs/cmd/pulumi-language-nodejs"
  rm -rf cmd; mkdir -p cmd/pulumi-language-nodejs
  cp "$src"/*.go cmd/pulumi-language-nodejs/
  rm -f cmd/pulumi-language-nodejs/*_test.go
  chmod -R u+w cmd
  sed -i 's/fmt\.Sprintf("127\.0\.0\.1:%d", handle\.Port), pipes\.directory())/req.GetMonitorAddress(), pipes.directory())/' \
    cmd/pulumi-language-nodejs/main.go
  grep -q 'req.GetMonitorAddress(), pipes.directory())' cmd/pulumi-language-nodejs/main.go ||
    { log "could not point the language host at the engine's monitor (main.go changed?)"; exit 1; }
  "${NICE[@]}" go mod tidy >&2
  build pulumi-language-nodejs ./cmd/pulumi-language-nodejs "-X $VERSION_PKG.Version=$PULUMI_NODEJS_HOST_VERSION"
fi

if [ ! -x "$BIN/pulumi-resource-kubernetes" ]; then
  k8s_mod=github.com/pulumi/pulumi-kubernetes/provider/v4
  log "building the Kubernetes provider $PULUMI_K8S_PROVIDER_VERSION ($k8s_mod@$PULUMI_K8S_PROVIDER_MODULE_VERSION)"
  wrapper "$CACHE_ROOT/src-pulumi-kubernetes-$PULUMI_K8S_PROVIDER_MODULE_VERSION" pulumi-kubernetes-build
  replaces "$k8s_mod@$PULUMI_K8S_PROVIDER_MODULE_VERSION" >> go.mod
  # The provider replaces its sdk/v4 with the sibling directory: take the SDK tagged with this release.
  "${NICE[@]}" go get "$k8s_mod@$PULUMI_K8S_PROVIDER_MODULE_VERSION" \
    "github.com/pulumi/pulumi-kubernetes/sdk/v4@v$PULUMI_K8S_PROVIDER_VERSION" >&2
  # A local copy of the main package, so that its generated, embedded files can be written.
  src="$(mod_dir "$k8s_mod@$PULUMI_K8S_PROVIDER_MODULE_VERSION")/cmd/pulumi-resource-kubernetes"
  rm -rf cmd; mkdir -p cmd/pulumi-resource-kubernetes
  cp "$src"/*.go "$src"/*.json cmd/pulumi-resource-kubernetes/
  chmod -R u+w cmd
  "${NICE[@]}" go mod tidy >&2
  (cd cmd/pulumi-resource-kubernetes && VERSION="$PULUMI_K8S_PROVIDER_VERSION" "${NICE[@]}" go generate ./... >&2)
  build pulumi-resource-kubernetes ./cmd/pulumi-resource-kubernetes \
    "-X $k8s_mod/pkg/version.Version=$PULUMI_K8S_PROVIDER_VERSION"
fi

have_all || { log "some binaries are missing in $BIN"; exit 1; }
log "built in $(( $(date +%s) - start ))s"
if $INSTALL_PLUGIN; then install_plugin; fi
echo "$BIN"
