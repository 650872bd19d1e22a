"""`make unit`'s last line (scripts/unit_tier.py `summary`): the tests of every process counted from
pytest's own summary line (_pytest/terminal.py), whatever follows it or colours it; a process that
died named with its status (and exit status, as a shell gives it); an interrupted session (an error during collection, reported by every
process) not counted as one error per process."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from scripts.unit_tier import Process, summary

GREEN, RESET = "\x1b[32m", "\x1b[0m"
CASES = {
    "passes and a failure": (
        [(0, ".....\n600 passed in 9.10s\n"), (1, "F..\n1 failed, 520 passed, 3 warnings in 9.30s\n")],
        "1 failed, 1120 passed"),
    "errors, plural as pytest's": (
        [(1, "1 passed, 1 error in 1.00s\n"), (1, "2 errors in 1.00s\n")], "1 passed, 3 errors"),
    "colour and lines after the summary": (
        [(0, f"{GREEN}5 passed{RESET}{GREEN} in 1.00s{RESET}\nException ignored in: <function f>\n"),
         (0, "= 2 skipped, 1 xfailed in 61.00s (0:01:01) =\n")], "5 passed, 2 skipped, 1 xfailed"),
    "a process that got no module": ([(0, "5 passed in 1.00s\n"), (0, "no tests ran in 0.40s\n")], "5 passed"),
    "a process that died": (
        [(-9, "...."), (0, "3 passed in 1.00s\n")], "3 passed; process 1 ended with status 137 and no summary"),
    "interrupted while collecting": (
        [(2, "ERROR collecting test_x.py\n1 error in 0.50s\n")] * 2, "interrupted (see above)"),
}


@pytest.mark.parametrize("ended, counted", CASES.values(), ids=CASES.keys())
def test_the_last_line_counts_the_tests_of_every_process(tmp_path, ended, counted):
    processes = []
    for index, (returncode, output) in enumerate(ended):
        (tmp_path / f"{index}.txt").write_text(output)
        processes.append(Process(SimpleNamespace(returncode=returncode), tmp_path / f"{index}.txt", 0.0, 9.3 - index))
    assert summary(processes) == f"unit tier: {counted} in 9.3 s ({len(ended)} processes, ended after " \
        + ", ".join(f"{9.3 - index:.1f} s" for index in range(len(ended))) + ")"


@pytest.mark.parametrize("returncode, status", [(0, 0), (1, 1), (-9, 137), (-15, 143)])
def test_a_process_has_the_exit_status_a_shell_gives(tmp_path, returncode, status):
    """What the runner exits with (its first failed process's): 128 + the signal that ended one."""
    assert Process(SimpleNamespace(returncode=returncode), tmp_path / "output.txt", 0.0).status() == status
