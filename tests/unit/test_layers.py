"""The folders import one way (README, "Where the code is"): reference data needs nothing of the
program, the settings only reference data, the service specs the settings, the renderers the specs;
components and the program sit on top. Imports for types alone (`if TYPE_CHECKING:`) do not count."""

from __future__ import annotations

import ast

import pytest

from tests.support.stacks import ROOT

FOLDERS = ("reference", "config", "services", "renderers", "components", "program")
# What each folder may import of the program's folders besides itself (team_plane/ runs in the containers).
ALLOWED = {
    "reference": set(),
    "config": {"reference"},
    "services": {"reference", "config", "team_plane"},
    "renderers": {"reference", "config", "services", "team_plane"},
    "components": {"reference", "config", "services", "renderers", "team_plane"},
    "program": {"reference", "config", "services", "renderers", "components", "team_plane"},
}
# The loader decides which images a stack pulls from the specs (the Docker Hub rule), and what reads
# stack config hands it to the loader.
ABOVE_ITS_FOLDER = {"config/loader.py", "config/stack_file.py", "config/stack_config.py"}


def runtime_imports(path) -> set[str]:
    """The program folders a module imports when it runs."""
    def walk(body):
        for node in body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            yield node
            for child in ("body", "orelse", "handlers", "finalbody"):
                yield from walk(getattr(node, child, []) or [])

    found = set()
    for node in walk(ast.parse(path.read_text()).body):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
    return found & {*FOLDERS, "team_plane"}


MODULES = sorted(path.relative_to(ROOT).as_posix() for folder in FOLDERS for path in (ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("module", [m for m in MODULES if m not in ABOVE_ITS_FOLDER])
def test_a_module_imports_only_the_folders_below_its_own(module):
    folder = module.split("/")[0]
    assert runtime_imports(ROOT / module) - {folder} <= ALLOWED[folder]


def test_only_the_loader_and_its_callers_reach_above_the_settings():
    reaching = {m for m in MODULES if m.startswith("config/") and runtime_imports(ROOT / m) - {"config", "reference"}}
    assert reaching <= ABOVE_ITS_FOLDER
