"""benchmarks/machine.py: what a report says about the machine."""

import os
import platform
import shutil

import numpy as np
from machine import machine_info

import numgan as ng


def test_machine_info_names_the_versions_and_the_cpu():
    info = machine_info()
    assert info["python"] == platform.python_version()
    assert info["numpy"] == np.__version__ and info["numgan"] == ng.__version__
    assert info["nproc"] == os.cpu_count()
    if shutil.which("lscpu"):
        assert info["lscpu"]["Model name"]
        assert set(info["simd"]) <= {"avx2", "fma", "avx512f", "avx512_bf16"}
