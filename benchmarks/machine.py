"""The machine a benchmark ran on: CPU (lscpu), cores, Python and library versions, BLAS.

Results are kept per machine kind (docs/benchmarks.md): ``machine_kind`` names one from the
CPU's vendor, family and model, its widest vector unit and the CPUs the process may use
("AMD EPYC, family 25 model 17 (znver4), AVX-512, 2 CPUs"), the same on every machine of that
kind.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import re
import shutil
import subprocess
import sys
from typing import Any

import numpy as np

import numgan as ng

#: the instruction-set flags (lscpu's names) that decide which kernels BLAS, PyTorch and LLVM
#: pick
ISA_FLAGS = (
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512_vnni",
    "avx512_bf16",
    "amx_tile",
)


def torch_build() -> dict[str, Any] | None:
    """PyTorch's CPU capability and the BLAS it was built with, if torch is already imported
    (the benchmark imports it; this never imports it for the sake of a description)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    config = torch.__config__.show()
    blas = re.search(r"BLAS_INFO=(\w+)", config)
    return {
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "blas": blas.group(1) if blas else None,
        "mkldnn": bool(torch.backends.mkldnn.is_available()),
        "threads": torch.get_num_threads(),
    }


def gemm_in_place() -> str | None:
    """The GEMM numgan's Numba backend calls to add a weight gradient into dW in place
    (numgan/kernels/blas.py), or None where it found none and uses NumPy's ``dW += x.T @
    dout``: a run on one is not the same code as a run on the other."""
    from numgan.kernels import blas

    return blas.gemm_name()


def gemm_provider() -> str:
    """Which GEMM forms the Numba backend's products: "mkl" (oneMKL), "openblas" (NumPy's) or
    "numpy" (np.matmul and the NumPy lines); numgan/kernels/blas.py, NUMGAN_BLAS."""
    from numgan.kernels import blas

    return blas.provider()


def machine_kind(info: dict[str, Any]) -> str:
    """A short name for the kind of machine, e.g. "AMD EPYC, family 25 model 17 (znver4),
    AVX-512, 2 CPUs": the CPU, the widest vector instructions it offers, and how many logical
    CPUs the process may use (the thread count moves every ratio)."""
    cpu = info.get("lscpu") or {}
    name = cpu.get("Model name") or platform.processor() or "unknown CPU"
    where = ""
    if "CPU family" in cpu and "Model" in cpu:
        where = f", family {cpu['CPU family']} model {cpu['Model']}"
    if info.get("llvm_target_cpu"):
        where += f" ({info['llvm_target_cpu']})"
    simd = info.get("simd") or []
    width = "AVX-512" if "avx512f" in simd else "AVX2" if "avx2" in simd else "no AVX2"
    cpus = info.get("usable_cpus") or info.get("nproc")
    return f"{name}{where}, {width}" + (f", {cpus} CPUs" if cpus else "")


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
            "CPU family",
            "Model",
            "Stepping",
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
        info["simd"] = [f for f in ISA_FLAGS if f in flags]
    try:
        import llvmlite.binding as llvm
        import numba

        info["numba"] = numba.__version__
        info["llvmlite"] = importlib.metadata.version("llvmlite")
        info["llvm_target_cpu"] = llvm.get_host_cpu_name()  # what Numba compiles for
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
    info["gemm_in_place"] = gemm_in_place()
    info["gemm_provider"] = gemm_provider()
    info["torch_build"] = torch_build()
    info["kind"] = machine_kind(info)
    return info
