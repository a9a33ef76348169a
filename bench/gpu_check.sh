#!/usr/bin/env bash
# The GPU path checked in one command, on a machine with an NVIDIA GPU and CUDA 12 (bench/gpu_check.py
# says what it checks): installs requirements.txt and requirements-gpu.txt (CuPy) into .venv, and
# PyTorch if it is missing (for the timings against the PyTorch twins), then runs the check; about
# 3 minutes on a recent GPU.  Without a GPU it runs the parity part on the tests' strict device
# backend and says that the GPU parts were skipped.  Exit status 1 if anything differs or fails.
# Usage: bash bench/gpu_check.sh [--repeats N] [--no-tests]
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q -r requirements.txt
if command -v nvidia-smi > /dev/null && nvidia-smi > /dev/null 2>&1; then
    .venv/bin/pip install -q -r requirements-gpu.txt
    .venv/bin/python -c "import torch" 2> /dev/null || .venv/bin/pip install -q torch \
        || echo "gpu_check: PyTorch could not be installed: the timings will show ours only"
else
    echo "gpu_check: no NVIDIA GPU here (nvidia-smi): CuPy is not installed, the GPU parts will be skipped"
fi
exec .venv/bin/python bench/gpu_check.py "$@"
