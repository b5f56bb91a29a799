"""Hypothesis profiles: CI draws a fixed set of examples (derandomised, so a run is repeatable);
a local run explores new ones each time; NUMGAN_HYPOTHESIS=stress draws many more."""

import os

from hypothesis import settings

common = {"deadline": None, "print_blob": True}
settings.register_profile("ci", max_examples=25, derandomize=True, **common)
settings.register_profile("dev", max_examples=25, **common)
settings.register_profile("stress", max_examples=1000, **common)
settings.load_profile(os.environ.get("NUMGAN_HYPOTHESIS", "ci" if os.environ.get("CI") else "dev"))
