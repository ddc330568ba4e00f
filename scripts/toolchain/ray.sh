#!/usr/bin/env bash
# Creates, once, the Python virtualenv with the real `ray` package that the autoscaler's
# integration tests and benchmark run against: a local head and workers (`ray start`), a Python
# driver, Ray's own autoscaler scheduler for the benchmark. Cached outside the repository, keyed by
# the Ray and Python versions, so a second run returns at once.
#
#   scripts/toolchain/ray.sh      # prints the venv directory on its last line, creating it if missing
#
# Only PyPI is used (pip with the index configured on the machine). `ray` alone is enough: the
# head runs with `--include-dashboard=false`, and `ray status`, `ray.autoscaler.sdk` and the
# autoscaler's Python scheduler are all in the base wheel, so no heavy extra (`ray[default]`) is
# installed.
set -euo pipefail

RAY_VERSION="${RAY_VERSION:-2.60.0}"
PYTHON="${RAY_PYTHON:-python3}"
CACHE_ROOT="${RAYOP_CACHE:-$HOME/.cache/ray-k8s-operator}"

log() { echo "[toolchain/ray] $*" >&2; }

PY_TAG="$("$PYTHON" -c 'import sys; print(f"py{sys.version_info[0]}{sys.version_info[1]}")')"
VENV="$CACHE_ROOT/ray-$RAY_VERSION-$PY_TAG"

# The venv counts as ready only once the marker written after a successful install exists, so an
# interrupted install is redone rather than half-used.
if [ -f "$VENV/.ray-ready" ] && [ -x "$VENV/bin/ray" ]; then
  echo "$VENV"
  exit 0
fi

log "creating $VENV (ray==$RAY_VERSION, $PY_TAG)"
rm -rf "$VENV"
mkdir -p "$CACHE_ROOT"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "ray==$RAY_VERSION" >&2
"$VENV/bin/python" -c "import ray, sys; assert ray.__version__ == '$RAY_VERSION', ray.__version__" >&2
touch "$VENV/.ray-ready"
log "ready: $("$VENV/bin/ray" --version)"
echo "$VENV"
