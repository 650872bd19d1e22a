"""`make unit`'s runner (scripts/unit_tier.py) on a directory of its own, with this suite's hooks
(tests/conftest.py): two pytest processes claim the modules, so every test runs exactly once, a
module's tests (an `xdist_group`'s, across modules) in one process; a failure anywhere is printed
and fails the run; one line counts every process's tests."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CONFTEST = '''
import os
from pathlib import Path

import pytest

from tests.conftest import pytest_collection_finish, pytest_collection_modifyitems, pytest_runtest_protocol  # noqa: F401


@pytest.fixture(autouse=True)
def _ran(request):
    with open(Path(__file__).parent / "ran.txt", "a") as ran:
        ran.write(f"{request.node.nodeid} {os.getpid()}\\n")
'''
MODULES = {
    "test_many.py": "import pytest\n\n@pytest.mark.parametrize('n', range(6))\ndef test_many(n):\n    pass\n",
    "test_failing.py": "def test_before():\n    pass\n\ndef test_fails():\n    assert 'left-side' == 'right-side'\n\n"
                       "def test_after():\n    pass\n",
    "test_pair_one.py": "import pytest\n\npytestmark = pytest.mark.xdist_group('pair')\n\ndef test_one():\n    pass\n\n"
                        "def test_two():\n    pass\n",
    "test_pair_two.py": "import pytest\n\npytestmark = pytest.mark.xdist_group('pair')\n\ndef test_three():\n    pass\n",
    "test_more.py": "".join(f"def test_more_{n}():\n    pass\n\n" for n in range(4)),
}


def test_every_test_runs_once_a_module_and_a_group_in_one_process_and_a_failure_fails_the_run(tmp_path):
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -q -p no:anyio\n")  # as the repository's
    (tmp_path / "conftest.py").write_text(CONFTEST)
    for name, text in MODULES.items():
        (tmp_path / name).write_text(text)
    done = subprocess.run([sys.executable, "scripts/unit_tier.py", "--processes", "2", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stdout
    ran = defaultdict(list)  # node id -> the processes that ran it
    for line in (tmp_path / "ran.txt").read_text().splitlines():
        nodeid, pid = line.rsplit(" ", 1)
        ran[nodeid].append(int(pid))
    assert len(ran) == 16 and all(len(pids) == 1 for pids in ran.values()), ran
    by_module = defaultdict(set)
    for nodeid, pids in ran.items():
        by_module[nodeid.split("::")[0]].update(pids)
    assert all(len(pids) == 1 for pids in by_module.values()), by_module
    assert by_module["test_pair_one.py"] == by_module["test_pair_two.py"]
    assert "'left-side' == 'right-side'" in done.stdout
    assert re.search(r"^unit tier: 1 failed, 15 passed in [\d.]+ s \(2 processes, ended after [\d.]+ s, [\d.]+ s\)$",
                     done.stdout, re.MULTILINE), done.stdout
