"""Shared pytest configuration: the ``--fuzz-long`` option of the fuzz suite (tests/fuzz)."""

from __future__ import annotations

import pytest

import tests.fuzz


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fuzz-long",
        action="store_true",
        default=False,
        help="Run the fuzz suite (tests/fuzz) at full size: 10,000 generated scenario files instead of a few hundred.",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "fuzz: a fuzz test; larger with --fuzz-long")
    # Read by tests.fuzz.fuzz_settings when the fuzz modules are imported (collection comes after this).
    tests.fuzz.LONG = bool(config.getoption("--fuzz-long"))


@pytest.fixture(scope="session")
def fuzz_long(pytestconfig: pytest.Config) -> bool:
    """True when pytest runs with ``--fuzz-long``."""
    return bool(pytestconfig.getoption("--fuzz-long"))
