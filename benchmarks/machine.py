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


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"
