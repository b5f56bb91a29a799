"""The machine a benchmark ran on: CPU (lscpu), cores, Python and library versions, BLAS."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import shutil
import subprocess
from typing import Any

import numpy as np

import numgan as ng


def machine_info() -> dict[str, Any]:
    """CPU (lscpu), core count, Python and library versions, and numpy's BLAS."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "nproc": os.cpu_count(),
        "numpy": np.__version__,
        "numgan": ng.__version__,
        "numgan_backend_env": os.environ.get("NUMGAN_BACKEND"),
    }
    if hasattr(os, "sched_getaffinity"):
        info["usable_cpus"] = len(os.sched_getaffinity(0))
    if shutil.which("lscpu"):
        try:
            out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
        fields = {}
        for line in out.splitlines():
            key, _, value = line.partition(":")
            fields[key.strip()] = value.strip()
        wanted = (
            "Model name",
            "Vendor ID",
            "CPU(s)",
            "Thread(s) per core",
            "Core(s) per socket",
            "L1d cache",
            "L2 cache",
            "L3 cache",
            "Hypervisor vendor",
        )
        info["lscpu"] = {k: fields[k] for k in wanted if k in fields}
        flags = set(fields.get("Flags", "").split())
        info["simd"] = [f for f in ("avx2", "fma", "avx512f", "avx512_bf16") if f in flags]
    try:
        import numba

        info["numba"] = numba.__version__
    except ImportError:
        info["numba"] = None
    try:  # the installed version, read without importing torch
        info["torch"] = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        info["torch"] = None
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        info["numpy_blas"] = {
            k: blas.get(k) for k in ("name", "version", "openblas configuration") if k in blas
        }
    except Exception:  # older numpy prints its config and has no dict mode
        info["numpy_blas"] = None
    try:
        from threadpoolctl import threadpool_info

        info["runtime_libraries"] = [
            {k: i.get(k) for k in ("user_api", "internal_api", "version", "architecture")}
            for i in threadpool_info()
        ]
    except ImportError:
        info["runtime_libraries"] = None
    return info
