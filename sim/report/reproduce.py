"""How to reproduce a report's numbers: the commands (``compare --json`` or ``sweep``, and the report
itself, as ``report_argv`` builds them), the facts that pin the results (seed, replications, a digest
of the scenario file and of the simulator's code) and the versions of the software that wrote it,
as the report's last section (``reproduce_blocks``).
"""

from __future__ import annotations

import hashlib
import platform
import shlex
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from sim.catalog import bundled_scenarios
from sim.report.blocks import Block, Bullets, Cell, Code, Heading, Paragraph, Table
from sim.scenario import Scenario
from sim.sweeps import code_version


def reproduce_blocks(
    commands: list[tuple[str, list[str]]], facts: list[tuple[str, str]], notes: list[str]
) -> list[Block]:
    blocks: list[Block] = [Heading("Reproduce")]
    blocks += [Paragraph(note) for note in notes]
    for what, argv in commands:
        blocks += [Paragraph(what), Code(shlex.join(argv))]
    blocks.append(Bullets(facts))
    blocks.append(Table("versions", ["software", "version"], [[Cell(k), Cell(v)] for k, v in versions()]))
    return blocks


def versions() -> list[tuple[str, str]]:
    import scipy  # here only: the other commands do not load it

    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    return [
        ("rollout-sim", version("rollout-sim")),
        ("Python", f"{platform.python_version()} ({platform.python_implementation()})"),
        ("numpy", np.__version__),
        ("pandas", pd.__version__),
        ("scipy", scipy.__version__),
        ("matplotlib (charts only)", version("matplotlib")),
        ("platform", platform.platform(terse=True)),
    ]


def scenario_facts(scenario: Scenario | None) -> list[tuple[str, str]]:
    """The scenario file's digest (and whether it is bundled) and the simulator code's digest, which
    names a sweep's saved items."""
    if scenario is None:
        return []
    facts = []
    path = Path(scenario.source)
    if path.is_file():
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        bundled = bundled_scenarios().get(path.stem) == path
        where = f"bundled scenario {path.stem} ({path})" if bundled else str(path)
        facts.append(("scenario file", f"{where}, sha256 {digest}"))
    facts.append(("simulator code", f"digest {code_version(scenario)} of the simulator's and strategies' source"))
    return facts


def report_argv(
    scenario: str | None,
    name: str,
    default_name: str,
    out: str,
    *,
    sweep: bool = False,
    source: str | None = None,
    extra: Sequence[str] = (),
) -> list[str]:
    """``rollout-sim report`` with what it was given; ``--name`` and ``--out`` only when not the defaults."""
    argv = ["rollout-sim", "report"]
    if scenario is not None:
        argv.append(scenario)
    if sweep:
        argv.append("--sweep")
    if source is not None:
        argv += ["--from", source]
    argv += extra
    if name != default_name:
        argv += ["--name", name]
    if out != "reports":
        argv += ["--out", out]
    return argv


def strategy_flags(strategies: Sequence[str]) -> list[str]:
    return [part for name in strategies for part in ("--strategy", name)]
