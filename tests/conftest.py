import gc
import os
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
def pytest_runtest_protocol(item, nextitem):
    """Under `make unit`, the tests of a module (or of an `xdist_group`) run in the process that
    claimed it; the others pass over them, unreported (True: handled)."""
    if _claims and not _claims[0].take(_claim(item)):
        return True
    return None


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
