"""A compose host's boot is one pipeline (renderers/compose_host/boot.py): each stage imports only the
stages before it, and rendering a host walks the stages once, in order, never returning to a stage it
left (what a stage needs from an earlier one arrives as data in that stage's result)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from renderers.compose_host import boot as pipeline
from tests.support.hosts import PLANS
from tests.support.stacks import ROOT

PACKAGE = "renderers.compose_host"
STAGES = ("layout", "imds", "compose_file", "user_data")
HELPERS = ("literal_yaml", "boot_needs")  # what stages share that is no stage


def imported(module: str) -> set[str]:
    """Every module of the package `module` imports, at run time or for its types."""
    tree = ast.parse((ROOT / f"{PACKAGE.replace('.', '/')}/{module}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PACKAGE):
            names = [node.module.removeprefix(PACKAGE).lstrip(".")] if node.module != PACKAGE else []
            found |= set(names or (alias.name for alias in node.names))
    return found


@pytest.mark.parametrize("stage", STAGES)
def test_a_stage_imports_only_the_stages_before_it(stage):
    earlier = set(STAGES[:STAGES.index(stage)])
    assert imported(stage) - set(HELPERS) <= earlier


@pytest.mark.parametrize("helper", HELPERS)
def test_what_stages_share_imports_no_stage(helper):
    assert not imported(helper) & {*STAGES, "boot"}


def test_the_pipeline_runs_every_stage():
    assert imported("boot") >= set(STAGES)


def stages_walked(plan) -> list[str]:
    """The stage modules a rendering passes through, by calls and returns, in order; consecutive
    passes through the same module count once."""
    files = {str(Path(sys.modules[f"{PACKAGE}.{stage}"].__file__)): stage for stage in STAGES}
    walked: list[str] = []

    def trace(frame, event, _):
        if event in ("call", "return"):
            stage = files.get(frame.f_code.co_filename if event == "call" else
                              frame.f_back.f_code.co_filename if frame.f_back else "")
            if stage and (not walked or walked[-1] != stage):
                walked.append(stage)

    previous = sys.getprofile()  # a profiler of the whole run, if any
    sys.setprofile(trace)
    try:
        pipeline.boot(plan)
    finally:
        sys.setprofile(previous)
    return walked


@pytest.mark.parametrize("plan_name", sorted(PLANS))
def test_rendering_a_host_walks_each_stage_once_in_order(plan_name):
    assert stages_walked(PLANS[plan_name]()) == list(STAGES)
