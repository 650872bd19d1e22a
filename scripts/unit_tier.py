"""`make unit`: the unit tier on every core, a pytest process per core sharing out the test modules by
claims (tests/support/claims.py), the longest first, and the whole-program runs (tests/support/program.py).

Not pytest-xdist, which `make test` uses: the unit tier is short and computes all along, and on two
cores xdist's fixed costs were a tenth of it. Its controller spent a core-second handing out the
1,120 tests one at a time and taking their reports; here nothing hands out work or gathers reports.
Each process prints its own output when it ends, then this prints a line on them all.
"""

from __future__ import annotations

import argparse
import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The directory of the processes' claims, read by tests/conftest.py; its parent holds their shared runs.
CLAIMS_VARIABLE = "UNIT_TIER_CLAIMS"
UNIT_DIR = "tests/unit"
# pytest's last line, e.g. "1 failed, 478 passed, 2 warnings in 10.48s", in its order of outcomes.
OUTCOMES = ("failed", "passed", "skipped", "deselected", "xfailed", "xpassed", "warnings", "warning", "errors", "error")
OUTCOME_COUNT = re.compile(rf"(\d+) ({'|'.join(OUTCOMES)})\b")


@dataclass
class Process:
    popen: subprocess.Popen
    output: Path
    started: float
    seconds: float = 0.0


def start(paths: list[str], index: int, workdir: Path) -> Process:
    environment = {**os.environ, CLAIMS_VARIABLE: str(workdir / "claims")}
    output = workdir / f"process-{index}.txt"
    command = [sys.executable, "-m", "pytest", *paths, "-m", "not integration",
               # Each process reports only the tests it ran: no share of the whole in per cent.
               "-o", "console_output_style=classic",
               # The processes would write one cache (last failures) over each other's.
               "-p", "no:cacheprovider", "--basetemp", str(workdir / f"process-{index}")]
    with output.open("wb") as sink:
        popen = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=sink, stderr=subprocess.STDOUT)
    return Process(popen, output, time.perf_counter())


def run(paths: list[str], count: int) -> int:
    """`count` processes on `paths`; each one's output as it ends. Exit status: the first process's
    that failed, else 0."""
    with tempfile.TemporaryDirectory(prefix="unit-tier-") as directory:
        processes = [start(paths, index, Path(directory)) for index in range(1, count + 1)]
        ended: queue.SimpleQueue[Process] = queue.SimpleQueue()

        def wait(process: Process) -> None:
            process.popen.wait()
            process.seconds = time.perf_counter() - process.started
            ended.put(process)

        for process in processes:
            threading.Thread(target=wait, args=(process,), daemon=True).start()
        shown: list[Process] = []
        try:
            while len(shown) < len(processes):
                shown.append(ended.get())
                show(shown[-1])
        except KeyboardInterrupt:  # the processes had it too: what they printed as they stopped
            for process in processes:
                process.popen.wait()
                if process not in shown:
                    show(process)
            return 2
        counts = sum((outcomes(process.output.read_text(errors="replace")) for process in processes), Counter())
        print(f"unit tier: {', '.join(f'{counts[outcome]} {outcome}' for outcome in OUTCOMES if counts[outcome])} "
              f"in {max(process.seconds for process in processes):.1f} s "
              f"({count} processes, ended after {', '.join(f'{process.seconds:.1f} s' for process in processes)})")
        failed = [process.popen.returncode for process in processes if process.popen.returncode != 0]
        return failed[0] if failed else 0


def outcomes(output: str) -> Counter:
    """What pytest's last line counts: outcome -> tests."""
    lines = output.strip().splitlines()
    return Counter({outcome: int(count) for count, outcome in OUTCOME_COUNT.findall(lines[-1] if lines else "")})


def show(process: Process) -> None:
    sys.stdout.buffer.write(process.output.read_bytes())
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", default=[UNIT_DIR], help=f"test directories or modules (default: {UNIT_DIR})")
    parser.add_argument("--processes", type=int, default=len(os.sched_getaffinity(0)), help="default: one per core")
    args = parser.parse_args(argv)
    if args.processes < 1:
        parser.error(f"--processes: at least 1, not {args.processes}")
    return run(args.paths, args.processes)


if __name__ == "__main__":
    sys.exit(main())
