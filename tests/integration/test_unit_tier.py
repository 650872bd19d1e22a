"""`make unit`'s runner (scripts/unit_tier.py) and its processes, on test directories of their own with
this suite's hooks (tests/conftest.py).

- The runner with two processes: every test runs exactly once, a module's tests (an `xdist_group`'s,
  across modules) in one process; a failure is printed and fails the run; one line counts the tests.
- One process, the other's claims made beforehand: it runs exactly the tests of what it claims, and
  tears a module's fixtures down before the next test it runs, past modules claimed by the other
  (one in the same subdirectory, which would otherwise stay set up) and a group inside a module.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from scripts.unit_tier import CLAIMS_VARIABLE
from tests.support.claims import Claims

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PYTEST_INI = "[pytest]\naddopts = -q -p no:anyio\n"  # as the repository's
CONFTEST = '''
import os
from pathlib import Path

import pytest

from tests.conftest import pytest_collection_finish, pytest_collection_modifyitems, pytest_runtestloop  # noqa: F401

EVENTS = Path(__file__).parent / "events.txt"


def record(event):
    with EVENTS.open("a") as events:
        events.write(f"{event} {os.getpid()}\\n")


@pytest.fixture(autouse=True)
def _ran(request):
    record(request.node.nodeid)
'''
MODULE_FIXTURE = '''import pytest
from conftest import record


@pytest.fixture(scope="module", autouse=True)
def _module():
    record("setup " + __name__)
    yield
    record("teardown " + __name__)
'''


def tier(directory: Path, modules: dict[str, str]) -> Path:
    (directory / "pytest.ini").write_text(PYTEST_INI)
    (directory / "conftest.py").write_text(CONFTEST)
    for name, text in modules.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(text)
    return directory


def events(directory: Path) -> list[tuple[str, int]]:
    return [(event, int(pid)) for event, pid in (line.rsplit(" ", 1) for line in (directory / "events.txt").read_text().splitlines())]


def unit_tier(directory: Path, processes: int) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "scripts/unit_tier.py", "--processes", str(processes), str(directory)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_every_test_runs_once_a_module_and_a_group_in_one_process_and_a_failure_fails_the_run(tmp_path):
    tier(tmp_path, {
        "test_many.py": "import pytest\n\n@pytest.mark.parametrize('n', range(6))\ndef test_many(n):\n    pass\n",
        "test_failing.py": "def test_before():\n    pass\n\ndef test_fails():\n    assert 'left-side' == 'right-side'\n\n"
                           "def test_after():\n    pass\n",
        "test_pair_one.py": "import pytest\n\npytestmark = pytest.mark.xdist_group('pair')\n\ndef test_one():\n    pass\n\n"
                            "def test_two():\n    pass\n",
        "test_pair_two.py": "import pytest\n\npytestmark = pytest.mark.xdist_group('pair')\n\ndef test_three():\n    pass\n",
        "test_more.py": "".join(f"def test_more_{n}():\n    pass\n\n" for n in range(4)),
    })
    done = unit_tier(tmp_path, 2)
    assert done.returncode == 1, done.stdout
    ran = defaultdict(list)  # node id -> the processes that ran it
    for nodeid, pid in events(tmp_path):
        ran[nodeid].append(pid)
    assert len(ran) == 16 and all(len(pids) == 1 for pids in ran.values()), ran
    by_module = defaultdict(set)
    for nodeid, pids in ran.items():
        by_module[nodeid.split("::")[0]].update(pids)
    assert all(len(pids) == 1 for pids in by_module.values()), by_module
    assert by_module["test_pair_one.py"] == by_module["test_pair_two.py"]
    assert "'left-side' == 'right-side'" in done.stdout
    assert re.search(r"^unit tier: 1 failed, 15 passed in [\d.]+ s \(2 processes, ended after [\d.]+ s, [\d.]+ s\); "
                     r"the processes' files are in /\S+$", done.stdout, re.MULTILINE), done.stdout


def test_a_process_runs_what_it_claims_and_tears_down_past_what_another_claimed(tmp_path):
    tier(tmp_path, {
        "test_a.py": MODULE_FIXTURE + "\ndef test_a():\n    pass\n",
        "test_b/test_one.py": MODULE_FIXTURE + "\ndef test_one():\n    pass\n",
        "test_b/test_two.py": MODULE_FIXTURE + "\ndef test_two():\n    pass\n",
        "test_c.py": MODULE_FIXTURE + "\ndef test_first():\n    pass\n\n@pytest.mark.xdist_group('inside')\n"
                                      "def test_grouped():\n    pass\n\ndef test_last():\n    pass\n",
        "test_d.py": MODULE_FIXTURE + "\ndef test_d():\n    pass\n",
    })
    others = Claims(tmp_path / "claims")  # what another process took before this one started
    for claim in ("module test_b/test_two.py", "group inside", "module test_d.py"):
        assert others.take(claim)
    done = subprocess.run([sys.executable, "-m", "pytest", str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, CLAIMS_VARIABLE: str(tmp_path / "claims")})
    assert done.returncode == 0, done.stdout
    assert [event for event, _ in events(tmp_path)] == [
        "setup test_a", "test_a.py::test_a", "teardown test_a",
        "setup test_one", "test_b/test_one.py::test_one", "teardown test_one",
        "setup test_c", "test_c.py::test_first", "test_c.py::test_last", "teardown test_c",
    ]
