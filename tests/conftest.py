"""Shared test configuration: hypothesis profiles, chosen with ``HYPOTHESIS_PROFILE``.

    pytest                              # "default": quick, ~20 examples per property
    HYPOTHESIS_PROFILE=ci pytest        # "ci": >= 100 examples, failing blob printed
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=100,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("default", max_examples=20, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
