"""Hypothesis profiles for the property suite.

`ci` (the default) keeps the whole suite well under a minute and derandomised, so a red CI
run reproduces exactly; `deep` draws twenty times as many examples from fresh random seeds.
Laws that simulate a whole catalog per example take a quarter of either (support.heavy).
Pick one with HYPOTHESIS_PROFILE=deep. The environment is read here, in test code only:
aimcore itself never reads it.

Profiles are global in Hypothesis: a plain `pytest` run loads this conftest at start-up, so
hypothesis tests in tests/ without their own @settings get the same profile.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]

settings.register_profile(
    "ci", max_examples=50, deadline=None, derandomize=True, suppress_health_check=_SLOW_OK
)
settings.register_profile(
    "deep", max_examples=1000, deadline=None, suppress_health_check=_SLOW_OK, print_blob=True
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
