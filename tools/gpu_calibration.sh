#!/usr/bin/env bash
# Calibration rows over training seeds on one lent GPU: the worlds are made first, then one
# process per training seed trains every named row on the GPU (a synthetic-64 step leaves the GPU
# waiting on kernel launches, so the processes share it well: docs/benchmarks.md, "On a GPU") and
# diagnoses it on the machine's CPU cores. Each process stops at LIMIT seconds.
# Usage: bash tools/gpu_calibration.sh OUT_FOLDER LIMIT "SEEDS" VARIANT...
#   e.g. bash tools/gpu_calibration.sh "$OUT" 480 "0 1 2" small-motion+full-res small-motion+full-res+motion-64
# Then here: append OUT_FOLDER/calibration.jsonl to results/calibration.jsonl and rewrite the page
# (python -c "from pcutlib.experiments.calibration import rewrite_page; rewrite_page()").
# pcutlib needs pytorch-msssim, which the device image lacks: see docs/benchmarks.md, "On a GPU".
set -uo pipefail
out="$1"; limit="$2"; seeds="$3"; shift 3
mkdir -p "$out"
export PYTHONUNBUFFERED=1
python3 -m pcutlib.cli calibrate "$@" --worlds-only --no-progress > "$out/worlds.log" 2>&1 || { cat "$out/worlds.log"; exit 1; }
count=$(wc -w <<< "$seeds")
threads=$(( $(nproc) / count > 0 ? $(nproc) / count : 1 ))     # the CPU cores shared among the processes
for seed in $seeds; do
  OMP_NUM_THREADS=$threads timeout "$limit" python3 -m pcutlib.cli calibrate "$@" --seeds "$seed" --device cuda --results "$out" \
    --no-progress > "$out/seed$seed.log" 2>&1 &
done
wait
tail -n 3 "$out"/seed*.log
