"""Where training computes: the device, how many CPU threads, and the processes of a torchrun launch."""
from __future__ import annotations

import os
import platform
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist


def choose_device(requested: str | None = None) -> torch.device:
    """``requested`` ("cpu", "cuda", "cuda:1") or the best available: CUDA, else CPU."""
    if requested in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(requested)
    except (RuntimeError, TypeError):
        raise ValueError(f"device {requested!r} is not a device; expected auto, cpu, cuda or cuda:N") from None
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"device {requested!r}: pcut computes on cpu or cuda (auto picks one)")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {requested!r} requested but CUDA is not available")
    return device


def native_bf16(device: torch.device, cpuinfo: Path = Path("/proc/cpuinfo")) -> tuple[bool, str]:
    """Whether ``device`` computes bf16 in hardware, and why: a CPU with AMX or AVX512-BF16
    (flags amx_bf16 / avx512_bf16 in ``cpuinfo``), a GPU for which torch reports bf16 support.
    Without such units bf16 is emulated and slower than float32."""
    if device.type == "cuda":
        supported = torch.cuda.is_bf16_supported()
        return supported, f"{torch.cuda.get_device_name(device)} {'has' if supported else 'lacks'} bf16"
    try:
        flags = next(line for line in cpuinfo.read_text().splitlines() if line.startswith("flags")).split()
    except (OSError, StopIteration):
        return False, f"no CPU flags readable at {cpuinfo} ({platform.machine()}): bf16 taken as emulated"
    found = [flag for flag in ("amx_bf16", "avx512_bf16") if flag in flags]
    if found:
        return True, f"the CPU has native bf16 ({', '.join(found)})"
    return False, "the CPU has no AMX or AVX512-BF16: bf16 would be emulated"


def machine_record(device: torch.device | str = "cpu", cpuinfo: Path = Path("/proc/cpuinfo")) -> dict:
    """What a timed run ran on, for its record: the CPU's model name (or the GPU's), its bf16 line
    (:func:`native_bf16`) and torch's thread count. Two runs' minutes compare only where these agree."""
    device = torch.device(device)
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        try:
            name = next(line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                        if line.startswith("model name"))
        except (OSError, StopIteration):
            name = platform.processor() or platform.machine()
    return {"device": name, "bf16": native_bf16(device, cpuinfo)[1], "threads": torch.get_num_threads()}


def resolve_mixed_precision(requested: str, device: torch.device) -> tuple[str, str]:
    """``train_params.mixed_precision`` as it will run on ``device``: ``"auto"`` becomes "bf16"
    where :func:`native_bf16` holds and "none" (float32) elsewhere; the other values stay.
    Returns (precision, the reason, one line for the log)."""
    if requested != "auto":
        return requested, f"mixed_precision {requested} (as configured)"
    native, why = native_bf16(device)
    return ("bf16" if native else "none"), f"mixed_precision auto -> {'bf16' if native else 'none (float32)'}: {why}"


def cpus_busy_elsewhere(proc: Path = Path("/proc")) -> int:
    """How many CPUs other processes keep busy right now: their threads in the running state
    ('R' in /proc/PID/task/TID/stat), this process's own excluded; 0 where there is no /proc.

    One look, no waiting (a CPU-bound thread is almost always 'R'); a thread that starts or
    stops a moment later is missed, which only changes how many threads training picks.
    """
    own = os.getpid()
    running = 0
    try:
        pids = [entry.name for entry in os.scandir(proc) if entry.name.isdigit() and int(entry.name) != own]
    except OSError:
        return 0
    for pid in pids:
        try:
            tasks = os.scandir(proc / pid / "task")
            for task in tasks:
                stat = (proc / pid / "task" / task.name / "stat").read_text()
                running += stat[stat.rindex(")") + 2] == "R"       # the state follows "(command) "
        except (OSError, ValueError, IndexError):
            continue                                                # the process ended meanwhile
    return running


def choose_cpu_threads() -> int:
    """Intra-op threads for CPU training: the CPUs this process may use, minus those other
    processes keep busy, at least 1. OMP_NUM_THREADS wins when set.

    Measured on 2 cores: with another training beside it, a synthetic-64 step took 7.2 s with
    2 threads and 0.5 s with 1 (two processes x 2 OpenMP threads on 2 cores spin against each
    other); alone, 2 threads are the faster choice.
    """
    if os.environ.get("OMP_NUM_THREADS"):
        return torch.get_num_threads()
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cpus, cpus - cpus_busy_elsewhere()))


@contextmanager
def threads_for_free_cpus(device: torch.device | str = "cpu", say=print):
    """Inside the block, torch computes with ``choose_cpu_threads()`` intra-op threads on a CPU
    device (restored after). For any long CPU work (training, evaluation): measured during an
    experiment, evaluating a held-out video took 1.1 s alone and 31 s with 2 threads while
    another process kept one core busy."""
    threads = torch.get_num_threads()
    chosen = choose_cpu_threads() if torch.device(device).type == "cpu" else threads
    if chosen != threads:
        say(f"CPU busy with other work: computing with {chosen} thread(s) instead of {threads} "
            f"(set OMP_NUM_THREADS to choose)")
        torch.set_num_threads(chosen)
    try:
        yield chosen
    finally:
        torch.set_num_threads(threads)


@dataclass
class ProcessGroup:
    """Where this process sits in a torchrun launch (world size 1 without torchrun)."""
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def init_distributed(device: torch.device) -> ProcessGroup:
    """Join the process group that torchrun describes in RANK/WORLD_SIZE/LOCAL_RANK (gloo on CPU)."""
    if "WORLD_SIZE" not in os.environ or int(os.environ["WORLD_SIZE"]) == 1:
        return ProcessGroup()
    group = ProcessGroup(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ["LOCAL_RANK"]))
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return group


def finish_distributed() -> None:
    """Leave the process group (all ranks together, so none tears down while another still talks)."""
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
