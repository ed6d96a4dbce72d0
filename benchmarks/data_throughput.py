"""Data throughput: synthetic generator videos/s and FramesDataset loader samples/s.

    python benchmarks/data_throughput.py [--videos 200 --frames 32 --size 64 --workers 2 --batch 8]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from pcutlib.data.datasets import DatasetRepeater, FramesDataset  # noqa: E402
from pcutlib.data.make_synthetic import make_synthetic_dataset  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--videos", type=int, default=200)
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--batches", type=int, default=100, help="batches timed for the loader")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        root = make_synthetic_dataset(Path(folder) / "synthetic", videos=args.videos, frames=args.frames,
                                      size=args.size, progress=False)
        seconds = time.perf_counter() - start
        rows.append(("synthetic generator", f"{args.videos} videos x {args.frames} x {args.size}px",
                     f"{args.videos / seconds:.1f} videos/s", f"{seconds:.2f} s"))
        augmentation = {"flip_param": {"horizontal_flip": True, "time_flip": True},
                        "jitter_param": {"brightness": 0.1, "contrast": 0.1, "saturation": 0.1, "hue": 0.1}}
        for name, params in (("loader, no augmentation", None), ("loader, flips + jitter", augmentation)):
            dataset = FramesDataset(root, frame_shape=(args.size, args.size, 3), id_sampling=True,
                                    augmentation_params=params)
            repeats = -(-args.batches * args.batch // len(dataset))
            loader = DataLoader(DatasetRepeater(dataset, repeats), batch_size=args.batch, shuffle=True,
                                num_workers=args.workers, drop_last=True, persistent_workers=False)
            torch.manual_seed(0)
            iterator = iter(loader)
            next(iterator)  # worker start-up is not throughput
            start, samples = time.perf_counter(), 0
            for _, batch in zip(range(args.batches - 1), iterator):
                samples += len(batch["source"])
            seconds = time.perf_counter() - start
            rows.append((name, f"{args.workers} workers, batch {args.batch}",
                         f"{samples / seconds:.0f} samples/s", f"{seconds:.2f} s"))
    widths = [max(len(str(r[i])) for r in rows + [("what", "setting", "throughput", "time")]) for i in range(4)]
    for row in [("what", "setting", "throughput", "time")] + rows:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)))


if __name__ == "__main__":
    main()
