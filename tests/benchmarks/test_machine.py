"""benchmarks/machine.py: what a report says about the machine."""

import os
import platform
import shutil

import numpy as np
from machine import ISA_FLAGS, machine_info, machine_kind

import numgan as ng
from numgan.kernels import blas


def test_machine_info_names_the_versions_and_the_cpu():
    info = machine_info()
    assert info["python"] == platform.python_version()
    assert info["numpy"] == np.__version__ and info["numgan"] == ng.__version__
    assert info["nproc"] == os.cpu_count()
    if shutil.which("lscpu"):
        assert info["lscpu"]["Model name"]
        assert set(info["simd"]) <= set(ISA_FLAGS)
        assert info["kind"].startswith(info["lscpu"]["Model name"])
    assert info["llvm_target_cpu"] and info["llvmlite"]
    # which weight-gradient route the Numba backend runs here is part of the record
    assert (info["gemm_in_place"] is None) == (not blas.available())
    if blas.available():
        assert info["gemm_in_place"].endswith(("sgemm64_", "sgemm", "sgemm_64"))
    assert info["gemm_provider"] == blas.provider()


def test_machine_kind_names_the_cpu_and_its_widest_vectors():
    info = {
        "lscpu": {"Model name": "AMD EPYC", "CPU family": "25", "Model": "17"},
        "llvm_target_cpu": "znver4",
        "simd": ["avx2", "fma", "avx512f"],
        "nproc": 2,
    }
    assert machine_kind(info) == "AMD EPYC, family 25 model 17 (znver4), AVX-512, 2 CPUs"
    info["simd"] = ["avx2", "fma"]
    info["lscpu"] = {"Model name": "Intel Xeon"}
    info["llvm_target_cpu"] = None
    info["usable_cpus"] = 96
    assert machine_kind(info) == "Intel Xeon, AVX2, 96 CPUs"
