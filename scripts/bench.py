"""Print wall times of the unit tier and of one mocked whole-program run. Measures; asserts nothing."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def unit_tier_seconds() -> float:
    """`make unit`, exactly as a developer runs it."""
    started = time.perf_counter()
    subprocess.run(["make", "--no-print-directory", "unit"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def program_run_seconds(stack: str, repeats: int = 3) -> list[float]:
    from tests.support.pulumi_mocks import run_program
    from tests.support.stacks import runtime_config

    config, secret_keys = runtime_config(stack)
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        run_program(stack, config, secret_keys)
        timings.append(time.perf_counter() - started)
    return timings


if __name__ == "__main__":
    print(f"unit tier (make unit): {unit_tier_seconds():.2f} s")
    for stack in ("stg", "prod"):
        timings = program_run_seconds(stack)
        print(f"mocked program run, stack {stack}: median {statistics.median(timings):.3f} s "
              f"(runs: {', '.join(f'{t:.3f}' for t in timings)})")
