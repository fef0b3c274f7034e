"""The layering the package relies on: the library never reaches up into the command line.

Sources, sinks, state, jobs, the Elasticsearch package, the aggregation engines and the
delivery loop must be usable without click commands (from a notebook, a test, another
scheduler); an import of harvester.commands or harvester.cli from them would also bring
back the import circles that once tied the sink to the setup command.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "harvester"
LIBRARY = ["sources", "sinks", "state", "jobs", "elasticsearch", "aggregate", "pipeline.py", "devstack.py",
           "config_report.py"]
UPWARD = ("harvester.commands", "harvester.cli")


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every absolute module name imported by the file, at top level or inside functions."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, a.name) for a in node.names)
    return found


def library_files() -> list[Path]:
    files = []
    for part in LIBRARY:
        target = PACKAGE / part
        files.extend(sorted(target.rglob("*.py")) if target.is_dir() else [target])
    return files


def upward_imports(path: Path) -> list[str]:
    return [f"line {line} imports {name}" for line, name in imported_modules(path)
            if any(name == up or name.startswith(up + ".") for up in UPWARD)]


@pytest.mark.parametrize("path", library_files(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_library_module_does_not_import_the_command_line(path):
    assert upward_imports(path) == []


def test_the_check_sees_an_upward_import(tmp_path):
    module = tmp_path / "module.py"
    module.write_text("def f():\n    from harvester.commands.setup import x\n    return x\n")
    assert upward_imports(module) == ["line 2 imports harvester.commands.setup"]

