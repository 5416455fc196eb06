#!/usr/bin/env bash
# The one test command (README, and .ci/run calls exactly this).
# Installs what the tests need on a fresh Debian machine, then runs pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  need=()
  command -v sctk >/dev/null || need+=(sctk)
  command -v espeak-ng >/dev/null || need+=(espeak-ng)
  command -v sox >/dev/null || need+=(sox)
  command -v chromium >/dev/null || need+=(chromium)
  if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
fi

PIP="python3 -m pip install -q --disable-pip-version-check"
# CPU torch from the local wheel (an unpinned torch would pull a multi-GB CUDA build),
# then openai-whisper without its triton dependency.
$PIP torch==2.13.0
$PIP --no-deps openai-whisper==20250625
$PIP -e ".[test,openai,ray]"

python3 -m pytest -q -p no:cacheprovider "$@"
