"""The layering (import-linter) and the types (mypy) are checks that fail the build: on a
copy of the project with one forbidden import, or one type error, each exits non-zero and
names what broke. (scripts/test runs both on the real tree; a failed step fails the run.)"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ["config", "demo", "api", "portal", "audit", "policy", "contracts", "catalog",
            "operators", "ledger", "accounts", "crypto", "kernel"]
BIN = Path(sys.executable).parent


def copy_project(target: Path) -> Path:
    for name in PACKAGES:
        shutil.copytree(ROOT / name, target / name,
                        ignore=shutil.ignore_patterns("__pycache__", "templates", "static",
                                                      "data", "migrations"))
    for name in ("pyproject.toml", "manage.py"):
        shutil.copy(ROOT / name, target / name)
    return target


def run(tool: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SHULIAN_DATA_DIR": str(cwd / "var"), "PYTHONPATH": str(cwd)}
    return subprocess.run([str(BIN / tool), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600, check=False)


def test_a_forbidden_import_breaks_the_layering_check(tmp_path: Path) -> None:
    project = copy_project(tmp_path)
    assert run("lint-imports", cwd=project).returncode == 0
    with (project / "catalog" / "access.py").open("a") as source:
        source.write("\nfrom contracts import selectors as _backwards  # noqa\n")
    broken = run("lint-imports", cwd=project)
    assert broken.returncode != 0
    assert "catalog is not allowed to import contracts" in broken.stdout


def test_importing_the_demo_from_production_code_breaks_the_layering_check(
        tmp_path: Path) -> None:
    project = copy_project(tmp_path)
    with (project / "ledger" / "tasks.py").open("a") as source:
        source.write("\nimport demo.loader  # noqa\n")
    broken = run("lint-imports", cwd=project)
    assert broken.returncode != 0 and "demo" in broken.stdout


@pytest.mark.parametrize(("where", "code", "message"), [
    ("kernel/money.py", "\n\ndef untyped(x):\n    return x\n", "Function is missing a type"),
    ("policy/visibility.py", "\n\nBROKEN: int = 'text'\n", "Incompatible types"),
])
def test_a_type_error_breaks_the_type_check(tmp_path: Path, where: str, code: str,
                                           message: str) -> None:
    project = copy_project(tmp_path)
    with (project / where).open("a") as source:
        source.write(code)
    targets = ["kernel", "policy"]
    broken = run("mypy", "--no-incremental", *targets, cwd=project)
    assert broken.returncode != 0
    assert where in broken.stdout and message in broken.stdout
