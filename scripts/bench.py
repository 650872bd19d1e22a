"""Print wall times of the whole suite (`make test`), of the unit tier and of one mocked whole-program
run, and the LiteLLM proxy's throughput as shipped against LiteLLM's own defaults, side by side.
Measures; asserts nothing."""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_seconds(target: str) -> float:
    """`make <target>`, exactly as a developer runs it."""
    started = time.perf_counter()
    subprocess.run(["make", "--no-print-directory", target], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
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


# What the shipped container adds to LiteLLM's own server settings (services/specs.py litellm()).
SERVER_SETTINGS = ("NUM_WORKERS", "MAX_REQUESTS_BEFORE_RESTART", "MAX_REQUESTS_BEFORE_RESTART_JITTER", "GUNICORN_CMD_ARGS")
PROXY_CALLS, PROXY_WARMUP, PROXY_CONCURRENCY = 1500, 100, 8


def litellm_defaults(argv: list[str], env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """The same container and proxy config, served as LiteLLM serves by default: uvicorn, one
    worker, its keep-alive, no recycling."""
    return ([arg for arg in argv if arg != "--run_gunicorn"],
            {name: value for name, value in env.items() if name not in SERVER_SETTINGS})


def proxy_calls_per_second() -> dict[str, tuple[float, int]]:
    """Label -> (completed calls per second, calls without an answer): keep-alive clients against
    a fake Bedrock that answers at once, so the proxy itself is what is measured."""
    from tests.support.gateway import gateway
    from tests.support.load import keep_alive_load

    measured = {}
    for label, started in (("LiteLLM's defaults (uvicorn, 1 worker)", litellm_defaults),
                           ("shipped (gunicorn, services/serving.py)", None)):
        with tempfile.TemporaryDirectory() as workdir, gateway(Path(workdir), started=started) as running:
            keep_alive_load(running.proxy.url, running.token, concurrency=PROXY_CONCURRENCY, calls=PROXY_WARMUP)
            result = keep_alive_load(running.proxy.url, running.token, concurrency=PROXY_CONCURRENCY, calls=PROXY_CALLS)
            measured[label] = (result.statuses[200] / result.seconds, result.calls - result.statuses[200])
    return measured


if __name__ == "__main__":
    print(f"whole suite (make test): {make_seconds('test'):.2f} s")
    print(f"unit tier (make unit): {make_seconds('unit'):.2f} s")
    for stack in ("stg", "prod"):
        timings = program_run_seconds(stack)
        print(f"mocked program run, stack {stack}: median {statistics.median(timings):.3f} s "
              f"(runs: {', '.join(f'{t:.3f}' for t in timings)})")
    print(f"LiteLLM proxy, {PROXY_CALLS} chat completions from {PROXY_CONCURRENCY} keep-alive clients (fake Bedrock):")
    for label, (per_second, failed) in proxy_calls_per_second().items():
        print(f"  {label:40} {per_second:6.1f} calls/s, {failed} failed")
