import gc
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from _pytest.nodeid import NodeId

from scripts.unit_tier import CLAIMS_VARIABLE
from tests.support.claims import Claims

INTEGRATION_DIR = Path(__file__).parent / "integration"
# LiteLLM imported by a test process reads its bundled price map, as the container does (the spec's
# LITELLM_LOCAL_MODEL_COST_MAP). Otherwise its import fetches the map from the internet, and on failure
# retries in a thread whose logging imports LiteLLM's modules while the test's own import still runs.
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"


@pytest.hookimpl(trylast=True)  # after pytest-xdist's own
def pytest_collection_modifyitems(config, items):
    """The tiers are the directories: `make unit` collects tests/unit alone, so an integration test
    placed there would slow it and a unit test placed in tests/integration would skip it."""
    misplaced = [item.nodeid for item in items
                 if (item.get_closest_marker("integration") is not None) != item.path.is_relative_to(INTEGRATION_DIR)]
    if misplaced:
        raise pytest.UsageError(f"tests/integration holds exactly the integration-marked tests: {misplaced}")
    if config.getoption("loadgroup", False):
        for item in items:
            _join_xdist_group(item)
    if config.getoption("loadscopereorder", True) is False or os.environ.get(CLAIMS_VARIABLE):
        items.sort(key=_longest_first)


# `make test` has pytest-xdist hand work out in collection order (--no-loadscope-reorder), and `make
# unit`'s processes claim modules in it: what keeps a process longest starts first, and the many short
# tests fill the processes at the end. Ranked by the wall time of each module's tests on one worker
# (`pytest --durations=0` under make test): LiteLLM proxies, servers, waits; then the unit tier's
# longest modules.
LONGEST_FIRST = (
    "test_litellm_serving", "test_smoke", "test_local_litellm", "test_rendered_config_loads", "test_team_tracing",
    "test_team_access_sql", "test_local_postgres_tls", "test_langfuse_keep_alive", "test_litellm_guard", "test_restore",
    "test_litellm_key_values", "test_workflows", "test_imds_firewall", "test_job_deadlines", "test_host_job",
    "test_teams_at_scale", "test_policy", "test_local_stack", "test_ec2", "test_program",
)


def _longest_first(item: pytest.Item) -> tuple[bool, int]:
    """Integration before unit, ranked modules first; the sort is stable, so the rest stays as collected."""
    rank = LONGEST_FIRST.index(item.path.stem) if item.path.stem in LONGEST_FIRST else len(LONGEST_FIRST)
    return not item.path.is_relative_to(INTEGRATION_DIR), rank


def _join_xdist_group(item: pytest.Item) -> None:
    """`--dist loadgroup` sends the tests of one `xdist_group` to one worker by the `@<group>` each
    worker appends to its node ids. pytest-xdist 3.8 writes it where pytest 9.2 no longer reads a
    node id (`_nodeid`; pytest keeps a structured `_id`), so every group was silently spread over the
    workers (pytest-dev/pytest-xdist#1386, open): appended here as xdist means to, once."""
    groups = _xdist_groups(item)
    suffix = f"@{'_'.join(groups)}"
    if groups and not item.nodeid.endswith(suffix):
        item._id = NodeId.parse(item.nodeid + suffix)


@pytest.fixture(scope="session", autouse=True)
def _program_runs_shared_between_workers(tmp_path_factory):
    """pytest-xdist workers of one session share a temporary directory's parent (its documented
    pattern for work done once per session); the runs go there. Without workers, nothing to share."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # Imported here: pytest-xdist's controller loads this file too, and Pulumi's SDK would delay its workers' start.
        from tests.support.program import share_runs_in

        share_runs_in(tmp_path_factory.getbasetemp().parent / "program-runs")


_claims: list[Claims] = []  # this process's, under `make unit` (scripts/unit_tier.py)


def pytest_collection_finish(session):
    """`make unit`'s processes share whole-program runs (tests/support/program.py) and claim modules."""
    if os.environ.get(CLAIMS_VARIABLE):
        from tests.support.program import share_runs_in

        claims = Path(os.environ[CLAIMS_VARIABLE])
        share_runs_in(claims.parent / "program-runs")
        _claims[:] = [Claims(claims)]


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session):
    """Under `make unit`, pytest's own loop (_pytest/main.py) over the tests of the modules (or
    `xdist_group`s) this process claims, each claimed as the last test before it starts. Each test is
    told the next one this process runs (`nextitem`), so that the fixtures it leaves are torn down then."""
    if not _claims:
        return None
    if session.testsfailed and not session.config.option.continue_on_collection_errors:
        raise session.Interrupted(f"{session.testsfailed} error{'s' if session.testsfailed != 1 else ''} during collection")
    if session.config.option.collectonly:
        return True
    mine = _claimed(session.items, _claims[0])
    item = next(mine, None)
    while item is not None:
        nextitem = next(mine, None)
        item.config.hook.pytest_runtest_protocol(item=item, nextitem=nextitem)
        if session.shouldfail:
            raise session.Failed(session.shouldfail)
        if session.shouldstop:
            raise session.Interrupted(session.shouldstop)
        item = nextitem
    return True


def _claimed(items: list[pytest.Item], claims: Claims) -> Iterator[pytest.Item]:
    """The items of each claim (in the order of its first item) that this process takes."""
    by_claim: dict[str, list[pytest.Item]] = {}
    for item in items:
        by_claim.setdefault(_claim(item), []).append(item)
    for claim, claimed in by_claim.items():
        if claims.take(claim):
            yield from claimed


def _claim(item: pytest.Item) -> str:
    groups = _xdist_groups(item)
    return f"group {'_'.join(groups)}" if groups else f"module {item.nodeid.split('::')[0]}"


def _xdist_groups(item: pytest.Item) -> list[str]:
    return sorted({str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
                   for mark in item.iter_markers("xdist_group")})


def pytest_unconfigure(config):
    """The session is over: the interpreter's last collection at exit would walk every object the
    tests made (LiteLLM's 650,000 where a test imported it), seconds of CPU for nothing."""
    gc.freeze()
