import os
from pathlib import Path

import pytest

from tests.support.program import share_runs_in

INTEGRATION_DIR = Path(__file__).parent / "integration"


def pytest_collection_modifyitems(items):
    """The tiers are the directories: `make unit` collects tests/unit alone, so an integration test
    placed there would slow it and a unit test placed in tests/integration would skip it."""
    misplaced = [item.nodeid for item in items
                 if (item.get_closest_marker("integration") is not None) != item.path.is_relative_to(INTEGRATION_DIR)]
    if misplaced:
        raise pytest.UsageError(f"tests/integration holds exactly the integration-marked tests: {misplaced}")


@pytest.fixture(scope="session", autouse=True)
def _program_runs_shared_between_workers(tmp_path_factory):
    """pytest-xdist workers of one session share a temporary directory's parent (its documented
    pattern for work done once per session); the runs go there. Without workers, nothing to share."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        share_runs_in(tmp_path_factory.getbasetemp().parent / "program-runs")
