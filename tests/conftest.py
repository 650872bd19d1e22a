import pytest

from tests.support.program import share_runs_in


@pytest.fixture(scope="session", autouse=True)
def _program_runs_shared_between_workers(tmp_path_factory, worker_id):
    """pytest-xdist workers of one session share a temporary directory's parent (its documented
    pattern for work done once per session); the runs go there."""
    if worker_id != "master":
        share_runs_in(tmp_path_factory.getbasetemp().parent / "program-runs")
