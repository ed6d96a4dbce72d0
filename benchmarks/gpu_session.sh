#!/usr/bin/env bash
# The GPU measurements still open, for one session lent a GPU (about 9.5 minutes of its 15), in the
# order they pay; results/gpu-h200 and docs/benchmarks.md ("On a GPU") hold the first session's.
#   1. the vox-256 U-Net step at 256 px (cut by its limit in the first session);
#   2. time to quality on the GPU: the demo's recipe beside the shipped schedule at batch 64 (the
#      step costs the same there as at batch 8), at two learning rates, each diagnosed on the GPU.
# Usage: bash benchmarks/gpu_session.sh OUT_FOLDER   (the device tool's $OUT when not given)
# pcutlib needs pytorch-msssim, which the device image lacks: carry its wheel and put it on
# PYTHONPATH first (docs/benchmarks.md, "On a GPU", says how).
set -uo pipefail
out="${1:-${OUT:?name an output folder}}"
mkdir -p "$out"
export PYTHONUNBUFFERED=1
{ nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv
  python3 -c "import torch; print(torch.__version__, torch.cuda.get_device_name(), torch.backends.cudnn.version())"
  nproc; } 2>&1 | tee "$out/machine.txt"
timeout 90 python3 benchmarks/train_step.py --device cuda --setups "vox-256 U-Net" --sizes 256 --steps 4 \
  --rounds 3 --no-low-precision 2>&1 | tee "$out/train_step_256.log"
# 3 recipes x 1.5 training minutes, the worlds (about 40 s) and 9 diagnoses: the JSON is written
# after every recipe, so a cut keeps the recipes done
timeout 480 python3 benchmarks/time_to_quality.py --device cuda --minutes 1.5 --every 0.5 \
  --recipes demo shipped-batch-64 shipped-batch-64-lr-3e-3 --out "$out/ttq" --runs /tmp/pcut-ttq \
  2>&1 | grep --line-buffered -v "synthetic videos" | tee "$out/ttq.log"
echo "gpu_session.sh done"
