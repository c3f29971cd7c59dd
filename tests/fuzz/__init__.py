"""The fuzz suite: generated scenario files and misbehaving plugins against the loader, the engine and the CLI.

A normal ``pytest`` run uses a size that fits CI; ``pytest --fuzz-long`` runs
the long version (10,000 generated files through the loader).
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

LONG = False
"""Set by tests/conftest.py from ``--fuzz-long`` before the fuzz modules are collected."""


def fuzz_settings(normal: int = 200, long: int = 10_000, **overrides: object) -> settings:
    """Hypothesis settings for a fuzz test: ``normal`` examples, or ``long`` with ``--fuzz-long``.

    No deadline (a generated file may be large), no shrinking time limit worth
    speaking of, and none of the health checks that big generated inputs trip.
    """
    options: dict[str, object] = {
        "max_examples": long if LONG else normal,
        "deadline": None,
        "derandomize": False,
        "suppress_health_check": [
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
            HealthCheck.function_scoped_fixture,
            HealthCheck.large_base_example,
        ],
    }
    options.update(overrides)
    return settings(**options)
