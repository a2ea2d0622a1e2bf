#!/usr/bin/env bash
# One entry point for people and CI.
#   bash scripts/dev.sh build   set up .venv, then run the default `longtracerl build` on the bundled world
#   bash scripts/dev.sh test    set up .venv, then ruff + mypy + the whole pytest suite
#   bash scripts/dev.sh setup   only set up (idempotent: a second run reinstalls only when pyproject.toml changed)
set -euo pipefail
cd "$(dirname "$0")/.."

pick_python() {
  for c in "${PYTHON:-}" python3.11 python3.12 python3.13 python3; do
    [ -n "$c" ] || continue
    if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$c"; return
    fi
  done
  echo "longtracerl needs Python >= 3.11 on PATH (or set PYTHON=...)" >&2; exit 1
}

browser() {
  # Headless Chromium + its WebDriver for the viewer's browser tests (tests/view/test_browser.py); they skip,
  # saying why, where neither can be installed. Best effort: never fails the setup.
  if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then return 0; fi
  command -v apt-get >/dev/null 2>&1 || { echo "no apt-get: browser tests will skip (install chromium + chromedriver)" >&2; return 0; }
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; else
      echo "not root and no sudo: browser tests will skip (apt-get install chromium chromium-driver)" >&2; return 0; fi
  fi
  { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver; } \
    >/dev/null 2>&1 || echo "could not install chromium: browser tests will skip" >&2
  return 0
}

setup() {
  if [ ! -x .venv/bin/python ]; then
    "$(pick_python)" -m venv .venv
    .venv/bin/python -m pip install -q --upgrade pip
  fi
  local stamp=.venv/.longtracerl-installed want
  want=$(cat pyproject.toml scripts/dev.sh | sha256sum | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return; fi
  # torch first and pinned: anything that pulls torch must find it already there (no multi-GB CUDA fetch).
  .venv/bin/python -c 'import torch' 2>/dev/null || .venv/bin/python -m pip install "torch==2.13.0"
  .venv/bin/python -m pip install -e ".[train,eval,dev]"
  # OpenRLHF's own argument parser checks our OpenRLHF command (tests/train); its runtime deps (deepspeed,
  # vLLM, flash-attn) are GPU-only, so the package alone, without them. Tests skip if this fails.
  .venv/bin/python -m pip install --no-deps "openrlhf==0.11.2" || echo "openrlhf not installed: its parser test will skip" >&2
  echo "$want" > "$stamp"
}

cmd=${1:-build}; shift || true
case "$cmd" in
  setup) setup ;;
  build) setup; exec .venv/bin/longtracerl build "$@" ;;
  test)
    browser
    setup
    .venv/bin/ruff check src tests benchmarks
    .venv/bin/mypy
    set +e
    .venv/bin/python -m pytest "$@"
    rc=$?
    set -e
    [ "$rc" -eq 5 ] && { echo "pytest collected no tests" >&2; exit 1; }
    exit "$rc" ;;
  *) echo "usage: bash scripts/dev.sh {build|test|setup} [args]" >&2; exit 2 ;;
esac
