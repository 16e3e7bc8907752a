"""The machine and library versions a run measured on."""

from __future__ import annotations

import os
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

__all__ = ["describe_machine"]

PACKAGES = (
    "recengine",
    "implicit",
    "lightfm-next",
    "numpy",
    "scipy",
    "pyarrow",
    "threadpoolctl",
)


def describe_machine() -> dict[str, Any]:
    """CPU model, logical cores, RAM, Python, BLAS and library versions.

    Returns
    -------
    dict
        ``cpu``, ``cores``, ``ram_gib``, ``python``, ``platform``, ``blas`` and
        ``libraries`` (package name to version).
    """
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": round(_ram_kib() / 2**20, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "blas": _blas(),
        "libraries": {package: _version(package) for package in PACKAGES},
    }


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _ram_kib() -> int:
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1])
    return 0


def _blas() -> list[str]:
    import implicit.cpu.als  # noqa: F401  (loads implicit's BLAS)
    import numpy  # noqa: F401  (loads numpy's BLAS)
    from threadpoolctl import threadpool_info

    return [
        f"{pool.get('internal_api')} {pool.get('version')} ({pool.get('num_threads')} threads)"
        for pool in threadpool_info()
        if pool.get("user_api") == "blas"
    ]


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"
