"""docs/workshop/ works: every lab's commands run as written, and each lab's lesson shows in the numbers.

The commands are read from the labs' ```sh blocks and the files they need from ```python blocks that start
with ``# file: NAME``, so the labs and this test cannot drift apart. Each lab runs in a fresh folder, as a
newcomer would run it, command after command. ``rollout-sim`` commands run in-process through the click
command that the installed entry point calls (a Python start-up per command would double the time; one test
runs a lab command through the entry point itself); ``python`` commands run with this interpreter. The
lesson is then read from the same command with ``--json`` (docs/json.md).
"""

from __future__ import annotations

import csv
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sim.cli import cli

ROOT = Path(__file__).resolve().parents[1]
WORKSHOP = ROOT / "docs" / "workshop"
LABS = sorted(WORKSHOP.glob("lab-*.md"))
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"\]\(([^)\s]+)\)")
SECTIONS = ("## Goal", "## Commands", "## What to look at", "## Questions", "## Facilitator notes")
_ENTRY_POINT = Path(sys.executable).with_name("rollout-sim")
ROLLOUT_SIM = [str(_ENTRY_POINT)] if _ENTRY_POINT.exists() else [sys.executable, "-m", "sim"]


def _lab(number: int) -> Path:
    (path,) = WORKSHOP.glob(f"lab-{number}-*.md")
    return path


def _blocks(path: Path, language: str) -> list[str]:
    return [body for lang, body in BLOCK.findall(path.read_text()) if lang == language]


def _commands(path: Path) -> list[list[str]]:
    lines = [line for body in _blocks(path, "sh") for line in body.splitlines()]
    return [argv for argv in (shlex.split(line, comments=True) for line in lines) if argv]


def _files(path: Path) -> dict[str, str]:
    files = {}
    for body in _blocks(path, "python"):
        first = body.splitlines()[0]
        assert first.startswith("# file: "), f"{path.name}: a python block does not start with '# file: NAME'"
        files[first.removeprefix("# file: ").strip()] = body
    return files


def _anchors(path: Path) -> set[str]:
    """The anchors a Markdown renderer gives the headings of ``path`` (lower case, punctuation dropped)."""
    headings = re.findall(r"^#+ (.+)$", path.read_text(), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


def _run(argv: list[str], folder: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run one command line of a lab in ``folder``; its output (it must succeed)."""
    if argv[0] == "python":
        done = subprocess.run(
            [sys.executable, *argv[1:]], cwd=folder, capture_output=True, text=True, timeout=300, check=False
        )
        assert done.returncode == 0, f"{shlex.join(argv)} exited {done.returncode}:\n{done.stderr}"
        return done.stdout
    assert argv[0] == "rollout-sim", shlex.join(argv)
    monkeypatch.chdir(folder)
    result = CliRunner().invoke(cli, argv[1:])
    assert result.exit_code == 0, f"{shlex.join(argv)} exited {result.exit_code}:\n{result.output}"
    return result.output


def _run_lab(number: int, folder: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Write the lab's files into ``folder``, run its commands there in order; their output by command line."""
    path = _lab(number)
    for name, text in _files(path).items():
        (folder / name).write_text(text)
    return {shlex.join(argv): _run(argv, folder, monkeypatch) for argv in _commands(path)}


def _lesson(number: int, command: str, folder: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The JSON document of the lab's first command starting with ``command``, run in ``folder``."""
    argv = next(argv for argv in _commands(_lab(number)) if shlex.join(argv).startswith(command))
    monkeypatch.chdir(folder)
    result = CliRunner().invoke(cli, [*argv[1:], "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_the_installed_command_runs_a_lab(tmp_path: Path) -> None:
    argv = _commands(_lab(1))[0]
    done = subprocess.run(
        [*ROLLOUT_SIM, *argv[1:]], cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "users harmed" in done.stdout and "caught by analysis" in done.stdout


def test_the_index_lists_every_lab_in_order() -> None:
    assert [path.name for path in LABS] == [_lab(n).name for n in range(1, 7)]
    index = (WORKSHOP / "README.md").read_text()
    positions = [index.index(f"({path.name})") for path in LABS]
    assert positions == sorted(positions)
    assert "pip install -q '.[tui]'" in index  # the project's install command, as in README.md


@pytest.mark.parametrize("path", LABS, ids=lambda path: path.stem)
def test_each_lab_has_its_parts_and_a_bundled_scenario(path: Path) -> None:
    text = path.read_text()
    positions = [text.index(section) for section in SECTIONS]
    assert positions == sorted(positions), f"{path.name}: sections missing or out of order"
    assert _commands(path), f"{path.name}: no ```sh block"
    assert {argv[0] for argv in _commands(path)} <= {"rollout-sim", "python"}
    for name in set(re.findall(r"\blab-\d-[a-z-]+\b", text)):
        assert (ROOT / "scenarios" / f"{name}.toml").is_file(), f"{path.name} names {name}, not bundled"


@pytest.mark.parametrize("path", [WORKSHOP / "README.md", *LABS, ROOT / "docs" / "concepts.md"], ids=lambda p: p.name)
def test_the_docs_link_only_inside_the_project(path: Path) -> None:
    text = path.read_text()
    assert "http://" not in text and "https://" not in text
    for target in LINK.findall(text):
        file, _, anchor = target.partition("#")
        resolved = (path.parent / file).resolve() if file else path
        assert resolved.is_relative_to(ROOT) and resolved.exists(), f"{path.name}: broken link {target}"
        if anchor and resolved.suffix == ".md":
            assert anchor in _anchors(resolved), f"{path.name}: no heading for {target}"


def test_lab_1_a_canary_harms_a_tenth_of_big_bang_or_less(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    outputs = _run_lab(1, tmp_path, monkeypatch)
    assert "caught by service_alert" in outputs["rollout-sim compare lab-1-canary-vs-bigbang"]
    assert "mitigated" in outputs["rollout-sim run lab-1-canary-vs-bigbang"]
    strategies = _lesson(1, "rollout-sim compare", tmp_path, monkeypatch)["strategies"]
    bigbang, canary = strategies["bigbang"], strategies["canary"]
    assert canary["blast_radius_users"]["mean"] * 10 < bigbang["blast_radius_users"]["mean"]
    assert bigbang["caught_by"] == {"service_alert": bigbang["replications"]}
    assert bigbang["caught_late"] == bigbang["replications"] and canary["caught_late"] == 0


def test_lab_2_request_weights_expose_many_times_more_users_for_similar_harm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outputs = _run_lab(2, tmp_path, monkeypatch)
    assert "5,000" in outputs["rollout-sim run lab-2-request-vs-sticky --every 2h"]
    strategies = _lesson(2, "rollout-sim compare", tmp_path, monkeypatch)["strategies"]
    request, sticky = strategies["request-canary"], strategies["sticky-canary"]
    assert request["exposed_share"]["mean"] >= 5 * sticky["exposed_share"]["mean"]
    harmed = request["blast_radius_users"]["mean"] / sticky["blast_radius_users"]["mean"]
    assert 0.5 <= harmed <= 2.0


def test_lab_3_only_user_reports_catch_a_silent_defect_often_late(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outputs = _run_lab(3, tmp_path, monkeypatch)
    assert "caught late" in outputs["rollout-sim compare lab-3-silent-defect"]
    run = outputs["rollout-sim run lab-3-silent-defect --strategy canary --strategy slow-flag"]
    assert "user_reports" in run and "kill switch" in run
    strategies = _lesson(3, "rollout-sim compare", tmp_path, monkeypatch)["strategies"]
    for summary in strategies.values():
        assert summary["caught_by"] == {"user_reports": summary["replications"]}
    assert strategies["bigbang"]["caught_late"] == strategies["bigbang"]["replications"]
    assert strategies["canary"]["caught_late"] == strategies["canary"]["replications"]
    assert strategies["slow-flag"]["caught_late"] == 0
    harmed = {name: summary["blast_radius_users"]["mean"] for name, summary in strategies.items()}
    assert harmed["slow-flag"] < harmed["canary"] < harmed["bigbang"]


def test_lab_4_a_larger_failure_budget_trades_false_rollbacks_for_time_to_detect(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outputs = _run_lab(4, tmp_path, monkeypatch)
    assert "false-rollback rate" in outputs["rollout-sim compare lab-4-cost-of-caution"]
    run = outputs["rollout-sim run lab-4-cost-of-caution --strategy budget-0 --strategy budget-5"]
    assert "false_rollback" in run and "completed" in run
    strategies = _lesson(4, "rollout-sim compare", tmp_path, monkeypatch)["strategies"]
    budgets = [strategies[f"budget-{n}"] for n in (0, 2, 5)]
    false_rollbacks = [summary["false_rollback_rate"] for summary in budgets]
    time_to_detect = [summary["ttd_s"]["mean"] for summary in budgets]
    assert false_rollbacks == sorted(false_rollbacks, reverse=True) and false_rollbacks[0] > false_rollbacks[-1]
    assert time_to_detect == sorted(time_to_detect) and time_to_detect[0] < time_to_detect[-1]
    assert strategies["bigbang"]["false_rollback_rate"] == 0.0
    assert strategies["bigbang"]["rollout_duration_s"]["mean"] < budgets[-1]["rollout_duration_s"]["mean"]


def test_lab_5_a_twenty_line_strategy_runs_beside_the_built_ins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    strategy = _files(_lab(5))["doubling.py"]
    assert len(strategy.splitlines()[1:]) <= 20  # after the '# file:' line
    outputs = _run_lab(5, tmp_path, monkeypatch)
    assert (tmp_path / "mine.py").is_file() and (tmp_path / "mine.toml").is_file()
    assert outputs[next(command for command in outputs if command.startswith("python "))].strip() == "ok"
    document = _lesson(5, "rollout-sim compare lab-1", tmp_path, monkeypatch)
    assert not document["errors"]
    strategies = document["strategies"]
    assert set(strategies) == {"bigbang", "canary", "Doubling"}
    assert (
        strategies["Doubling"]["blast_radius_users"]["mean"] * 10 < strategies["bigbang"]["blast_radius_users"]["mean"]
    )
    assert strategies["Doubling"]["exposed_users"]["mean"] < strategies["canary"]["exposed_users"]["mean"]
    healthy = _lesson(5, "rollout-sim compare healthy", tmp_path, monkeypatch)["strategies"]
    assert healthy["Doubling"]["false_rollback_rate"] > healthy["canary"]["false_rollback_rate"]


def test_lab_6_power_answers_the_bake_time_question(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    outputs = _run_lab(6, tmp_path, monkeypatch)
    power = next(argv for argv in _commands(_lab(6)) if argv[1] == "power")
    rows = _lesson(6, shlex.join(power), tmp_path, monkeypatch)["rows"]
    assert [row["bake_s"] for row in rows] == sorted(row["bake_s"] for row in rows)
    assert len(rows) == power.count("--bake")
    detection = [row["detection"] for row in rows]
    false_rollbacks = [row["false_rollback"] for row in rows]
    assert detection == sorted(detection) and detection[0] < 0.5 < 0.95 <= detection[-1]
    assert false_rollbacks == sorted(false_rollbacks) and false_rollbacks[0] < false_rollbacks[-1]
    assert "bake" in outputs[shlex.join(power)]
    with (tmp_path / "reports" / "lab-6-bake-time-sweep.csv").open() as table:
        harmed = {
            row["strategies.canary.bake"]: float(row["mean"])
            for row in csv.DictReader(table)
            if (row["release"], row["strategy"], row["measure"]) == ("defective", "canary", "blast_radius_users")
        }
    assert harmed["15m"] < harmed["10m"]
