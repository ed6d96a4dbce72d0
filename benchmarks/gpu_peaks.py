"""Dense peak throughput of the GPUs pcut's benchmarks report against, in TFLOP/s, from NVIDIA's
datasheets. The datasheets' headline tensor-core figures assume 2:4 structured sparsity and are
twice these. H100 and H200 are the SXM parts (the same chip and clocks; the H200 has more
memory). ``tf32`` and ``bf16`` are the tensor cores, ``fp32`` the plain units.

A float32 step's convolutions run on the tensor cores in TF32 when cuDNN allows it (PyTorch's
default, ``torch.backends.cudnn.allow_tf32``), so its share is taken of the TF32 peak.
"""
from __future__ import annotations

PEAK_TFLOPS = {
    "H200": {"bf16": 989.5, "tf32": 494.7, "fp32": 67.0},
    "H100": {"bf16": 989.5, "tf32": 494.7, "fp32": 67.0},
    "A100": {"bf16": 312.0, "tf32": 156.0, "fp32": 19.5},
}


def chip_of(device_name: str) -> str | None:
    """The PEAK_TFLOPS chip a CUDA device name is ('NVIDIA H200' -> 'H200'); None if unlisted, and
    for the H100 and H200 PCIe and NVL cards, whose peaks are lower than the SXM parts' listed."""
    name = device_name.upper()
    chip = next((chip for chip in PEAK_TFLOPS if chip in name), None)
    if chip in ("H100", "H200") and ("PCIE" in name or "NVL" in name):
        return None
    return chip


def peak_tflops(device_name: str, precision: str) -> float | None:
    """Dense peak TFLOP/s of ``device_name`` in ``precision`` (bf16, tf32 or fp32); None for a GPU
    this table does not list. A ValueError names an unknown precision."""
    if precision not in ("bf16", "tf32", "fp32"):
        raise ValueError(f"precision {precision!r}: expected bf16, tf32 or fp32")
    chip = chip_of(device_name)
    return None if chip is None else PEAK_TFLOPS[chip][precision]
