"""`make unit`: the unit tier on every core, a pytest process per core sharing out the test modules by
claims (tests/support/claims.py), the longest first, and the whole-program runs (tests/support/program.py).

Not pytest-xdist, which `make test` uses: the unit tier is short and computes all along, and on two
cores xdist's controller, handing out the 1,120 tests one at a time and taking their reports, spent a
core-second of it. Here nothing hands out work or gathers reports. Each process prints its own output
when it ends (in colour on a terminal, not live), then one line counts the tests of them all.
"""

from __future__ import annotations

import argparse
import os
import queue
import re
import shutil
import signal
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
UNIT_DIR = ROOT / "tests" / "unit"
# pytest's last line (_pytest/terminal.py summary_stats, format_session_duration), e.g.
# "1 failed, 478 passed, 2 warnings in 10.48s": what the tests' outcomes were.
SUMMARY = re.compile(r"^(?:=+ )?(?P<stats>.+?) in \d+\.\d\ds(?: \(\d+:\d\d:\d\d\))?(?: =+)?$")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
# Outcomes per test, in pytest's order. Not its warnings: a warning raised at collection is printed
# by every process, each of which collects the whole tier.
TEST_OUTCOMES = ("failed", "passed", "skipped", "xfailed", "xpassed", "error")
INTERRUPTED = 2  # pytest's ExitCode.INTERRUPTED


@dataclass
class Process:
    popen: subprocess.Popen
    output: Path
    started: float
    seconds: float = 0.0

    def outcomes(self) -> Counter | None:
        """What pytest's summary line counts, outcome -> tests; None without one (the process died)."""
        for line in reversed(ANSI.sub("", self.output.read_text(errors="replace")).splitlines()):
            if match := SUMMARY.match(line.strip()):
                return Counter({outcome.removesuffix("s") if outcome == "errors" else outcome: int(count)
                                for count, outcome in re.findall(r"(\d+) (\w+)", match["stats"])})
        return None

    def status(self) -> int:
        """Its exit status as a shell reports it: 128 + the signal that ended it."""
        code = self.popen.returncode
        return 128 - code if code < 0 else code


def start(paths: list[Path], index: int, workdir: Path) -> Process:
    output = workdir / f"process-{index}.txt"
    command = [sys.executable, "-m", "pytest", *map(str, paths), "-m", "not integration",
               # Each process reports only the tests it ran: no share of the whole in per cent.
               "-o", "console_output_style=classic",
               # The processes would write one cache (last failures, for --lf) over each other's.
               "-p", "no:cacheprovider", "--basetemp", str(workdir / f"process-{index}")]
    if sys.stdout.isatty():
        command.append("--color=yes")
    with output.open("wb") as sink:
        popen = subprocess.Popen(command, cwd=ROOT, env={**os.environ, CLAIMS_VARIABLE: str(workdir / "claims")},
                                 stdout=sink, stderr=subprocess.STDOUT)
    return Process(popen, output, time.perf_counter())


def run(paths: list[Path], count: int) -> int:
    """`count` processes on `paths`; each one's output as it ends, then a line on them all. Exit
    status: the first failed process's, else 0. After a failure the processes' files stay (their
    tests' tmp_path), and the line says where."""
    workdir = Path(tempfile.mkdtemp(prefix="unit-tier-"))
    processes = [start(paths, index, workdir) for index in range(1, count + 1)]
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
    except KeyboardInterrupt:  # from the terminal, the processes had it too: what they printed as they stopped
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for process in processes:
            process.popen.wait()
            if process not in shown:
                show(process)
        print(f"unit tier: interrupted; the processes' files are in {workdir}")
        return 2
    finally:
        for process in processes:  # ended here otherwise (SIGTERM: see main)
            if process.popen.poll() is None:
                process.popen.kill()
    failed = [process.status() for process in processes if process.status() != 0]
    print(summary(processes) + (f"; the processes' files are in {workdir}" if failed else ""))
    if not failed:
        shutil.rmtree(workdir)
    return failed[0] if failed else 0


def summary(processes: list[Process]) -> str:
    seconds = f"{len(processes)} processes, ended after {', '.join(f'{process.seconds:.1f} s' for process in processes)}"
    counted = [process.outcomes() for process in processes]
    unfinished = [f"process {index} ended with status {process.status()} and no summary"
                  for index, (process, outcomes) in enumerate(zip(processes, counted, strict=True), start=1) if outcomes is None]
    counts = sum((outcomes for outcomes in counted if outcomes is not None), Counter())
    tests = ", ".join(f"{counts[outcome]} {outcome}{'s' if outcome == 'error' and counts[outcome] != 1 else ''}"
                      for outcome in TEST_OUTCOMES if counts[outcome]) or "no tests ran"
    if any(process.popen.returncode == INTERRUPTED for process in processes):
        tests = "interrupted (see above)"  # e.g. by an error during collection, which every process reports
    return f"unit tier: {'; '.join([tests, *unfinished])} in {max(process.seconds for process in processes):.1f} s ({seconds})"


def show(process: Process) -> None:
    sys.stdout.buffer.write(process.output.read_bytes())
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="test directories or modules (default: tests/unit)")
    parser.add_argument("--processes", type=int, default=len(os.sched_getaffinity(0)), help="default: one per core")
    args = parser.parse_args(argv)
    if args.processes < 1:
        parser.error(f"--processes: at least 1, not {args.processes}")
    # Terminated, as by CI's timeout: end the processes too (run's `finally`).
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    return run([path.resolve() for path in args.paths] or [UNIT_DIR], args.processes)


if __name__ == "__main__":
    sys.exit(main())
