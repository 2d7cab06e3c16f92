"""What a benchmark ran on: CPU model, cores, memory, and the versions that matter."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata

__all__ = ["describe_machine", "load_average"]


def _cpuinfo_field(name: str) -> str | None:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == name:
                    return value.strip()
    except OSError:
        return None
    return None


def _memory() -> str:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def describe_machine() -> dict[str, str]:
    import torch

    cpu = _cpuinfo_field("model name") or platform.processor() or "unknown"
    family, model = _cpuinfo_field("cpu family"), _cpuinfo_field("model")
    if family:
        cpu += f" (family {family}, model {model})"
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "CPU": cpu,
        "cores": f"{os.cpu_count()} logical, {usable} usable; torch uses {torch.get_num_threads()} threads",
        "RAM": _memory(),
        "OS": platform.platform(),
        "Python": sys.version.split()[0],
        "torch": torch.__version__,
        "timm": _version("timm"),
        "netdsl": _version("netdsl"),
    }


def python_speed(rounds: int = 5) -> str:
    """A fixed pure-Python workload (dict and attribute traffic, like the front end's),
    timed in this process: the VM's speed drifts by tens of percent over a day, and this
    line says how fast the host was during a run, so runs can be compared."""
    import time

    class Item:
        __slots__ = ("key", "value")

        def __init__(self, key, value):
            self.key, self.value = key, value

    def work():
        table = {}
        for i in range(200_000):
            item = Item(f"k{i % 5000}", i)
            table[item.key] = table.get(item.key, 0) + item.value
        return len(table)

    times = []
    for _ in range(rounds):
        start = time.process_time()
        work()
        times.append(time.process_time() - start)
    times.sort()
    return f"{times[len(times) // 2] * 1e3:.0f} ms median of {rounds} (lower is faster)"


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"
