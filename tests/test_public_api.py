"""The front door: sim.__all__ matches the docs, and the core never imports the UI."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import sim

ROOT = Path(__file__).parent.parent


def test_docs_list_equals_all() -> None:
    text = (ROOT / "docs" / "api.md").read_text()
    documented = set(re.findall(r"^\| `(\w+)", text, flags=re.MULTILINE))
    documented |= set(re.findall(r"^\| `\w+\(.*?\)` / `(\w+)", text, flags=re.MULTILINE))
    assert documented == set(sim.__all__)


def test_importing_the_core_does_not_import_the_ui() -> None:
    code = "import sys, sim, sim.cli; sys.exit(3 if 'textual' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_strategies_use_only_the_public_api() -> None:
    for path in (ROOT / "strategies").glob("*.py"):
        imports = re.findall(r"^from (sim\S*) import", path.read_text(), flags=re.MULTILINE)
        assert set(imports) <= {"sim"}, (path.name, imports)


def _fields(model: type, prefix: str = "") -> set[str]:
    from pydantic import BaseModel

    names = set()
    for name, info in model.model_fields.items():
        key = prefix + (info.alias or name)
        names.add(key)
        for candidate in (info.annotation, *getattr(info.annotation, "__args__", ())):
            inner = getattr(candidate, "__args__", (candidate,))
            for sub in inner:
                if isinstance(sub, type) and issubclass(sub, BaseModel):
                    list_like = "list" in str(info.annotation)
                    names |= _fields(sub, key + ("[]." if list_like else "."))
    return names


def test_scenario_docs_cover_every_field() -> None:
    from sim.scenario import Scenario

    documented = set(re.findall(r"^\| `([\w.\[\]]+)`", (ROOT / "docs" / "scenarios.md").read_text(), re.MULTILINE))
    assert (
        _fields(Scenario)
        - {"population", "traffic", "release", "telemetry", "detection", "rollback"}
        - {
            "detection.analysis",
            "detection.service_alert",
            "detection.user_reports",
        }
        <= documented
    )


def test_readme_plugin_example_runs(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from sim.cli import cli

    code = re.search(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL).group(1)
    (tmp_path / "two_step.py").write_text(code)
    result = CliRunner().invoke(cli, ["compare", "-n", "2", "--strategy", f"{tmp_path / 'two_step.py'}:TwoStep"])
    assert result.exit_code == 0, result.output
