"""Start the real, pinned LiteLLM proxy on 127.0.0.1 for integration tests, or run its pieces without one."""

from __future__ import annotations

import json
import os
import random
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from renderers.litellm_proxy import render_proxy_config
from team_plane.litellm_start import proxy_config, write_config
from tests.support.settings import make_settings

STARTUP_SECONDS = 120


def uncollected(script: str) -> str:
    """A test's script that imports LiteLLM, run with the collector off, as the container's gunicorn
    master imports it (team_plane/litellm_start.py: 1.4 s of CPU less): a short script makes no
    garbage worth collecting, and at its end the interpreter's last collection would walk LiteLLM's
    650,000 objects (2 s more)."""
    return f"import gc\ngc.disable()\n{script}\ngc.freeze()\n"


# Where the kernel takes the local ports of outgoing connections (and of a bind to port 0).
EPHEMERAL_PORTS = range(*(int(port) + i for i, port in enumerate(
    Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())))


def free_port() -> int:
    """A loopback port nothing listens on, for a server started next. Outside the ephemeral range: a
    server binds seconds after this returns, and meanwhile any outgoing connection (the load tests open
    thousands, other workers and test runs too) could take an ephemeral port as its local one."""
    for port in random.sample(range(10000, EPHEMERAL_PORTS.start), 100):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free loopback port below the ephemeral range")


def random_master_key() -> str:
    # The proxy refuses weak keys such as sk-1234.
    return "sk-" + secrets.token_hex(24)


def base_environment() -> dict[str, str]:
    """A clean environment: nothing from the developer's shell leaks into the proxy."""
    keep = ("PATH", "HOME", "LANG", "TMPDIR", "SSL_CERT_FILE")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env.update({
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no network fetch of the price map
        "LITELLM_TELEMETRY": "False",
        "PYTHONUNBUFFERED": "1",
        "NO_PROXY": "127.0.0.1,localhost",
    })
    return env


@dataclass
class RunningProxy:
    url: str
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def request(self, method: str, path: str, token: str | None, body: dict | None = None,
                timeout: float = 60) -> tuple[int, bytes]:
        """`token` None: no Authorization header at all."""
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} | ({} if token is None else {"Authorization": f"Bearer {token}"})
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()


def stop(*processes: subprocess.Popen, timeout: float) -> None:
    """SIGTERM to each at once, then SIGKILL to any that has not ended within `timeout` seconds."""
    for process in processes:
        process.terminate()
    deadline = time.monotonic() + timeout
    for process in processes:
        try:
            process.wait(timeout=max(deadline - time.monotonic(), 0))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_live(url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"litellm exited with {process.returncode}:\n{log_path.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(url + "/health/liveliness", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise RuntimeError(f"litellm not live after {STARTUP_SECONDS}s:\n{log_path.read_text()[-4000:]}")


@contextmanager
def running_proxies(commands: Sequence[tuple[Sequence[str], Mapping[str, str], Path]]) -> Iterator[list[RunningProxy]]:
    """Run each (argv, env, workdir), a command that ends up exec-ing litellm, until the block ends:
    all start at once, then each is waited for."""
    proxies = []
    try:
        for argv, env, workdir in commands:
            port = free_port()
            log_path = workdir / f"litellm-{port}.log"
            with log_path.open("w") as log:
                process = subprocess.Popen(
                    [*argv, "--host", "127.0.0.1", "--port", str(port)],
                    cwd=workdir, env=dict(env), stdout=log, stderr=subprocess.STDOUT,
                )
            proxies.append(RunningProxy(f"http://127.0.0.1:{port}", process, log_path))
        for proxy in proxies:
            wait_until_live(proxy.url, proxy.process, proxy.log_path)
        yield proxies
    finally:
        stop(*(proxy.process for proxy in proxies), timeout=15)


@contextmanager
def running_proxy(argv: Sequence[str], env: Mapping[str, str], workdir: Path) -> Iterator[RunningProxy]:
    """Run `argv` (a command that ends up exec-ing litellm) until the block ends."""
    with running_proxies([(argv, env, workdir)]) as (proxy,):
        yield proxy


def proxy_pieces(directory: Path, script: str, argument: Any) -> Any:
    """Runs `script` in a fresh interpreter beside the config the container's start writes (the guard
    beside it; for a stack with one team), as `python -c script <config path> <argument as JSON>`, with
    the environment that config reads: LiteLLM's pieces without a running proxy (keys need its
    database). Returns the JSON the script prints last."""
    from tests.support.redis_server import running_redis_server  # it takes its port from this module

    settings = make_settings(teams=[{"name": "home-rentals"}])
    path = write_config(str(directory), proxy_config(render_proxy_config(settings).text, []))
    # A Redis that answers: the config's coordination_redis pings it as it loads (one that does not
    # answer costs redis-py's retries, seconds, and is no part of what the pieces prove).
    with running_redis_server(directory, random_master_key()) as redis:
        env = {**base_environment(), "LITELLM_MASTER_KEY": random_master_key(), "LITELLM_SALT_KEY": random_master_key(),
               "REDIS_HOST": redis.host, "REDIS_PORT": str(redis.port), "REDIS_SSL": "False",
               "REDIS_PASSWORD": redis.password, "LANGFUSE_HOST": "http://127.0.0.1:9"}
        ran = subprocess.run([sys.executable, "-c", uncollected(script), path, json.dumps(argument)], env=env,
                             cwd=directory, capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stderr[-3000:]
    return json.loads(ran.stdout.strip().splitlines()[-1])
