"""Start a real redis-server (Debian's, installed by scripts/install-system-deps.sh) on a loopback
port with a password, as the stack's Valkey runs: `noeviction`, no persistence needed here."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis

from tests.support.litellm_proxy import free_port, stop


@dataclass(frozen=True)
class RedisServer:
    host: str
    port: int
    password: str

    def client(self, db: int = 0) -> redis.Redis:
        return redis.Redis(host=self.host, port=self.port, password=self.password, db=db, decode_responses=True)


@contextmanager
def running_redis_server(workdir: Path, password: str) -> Iterator[RedisServer]:
    binary = shutil.which("redis-server")
    if binary is None:  # never skip: `make test` installs it
        raise RuntimeError("redis-server is missing: run scripts/install-system-deps.sh (make test does)")
    port = free_port()
    log = workdir / f"redis-{port}.log"
    process = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--requirepass", password,
         "--maxmemory-policy", "noeviction", "--save", "", "--appendonly", "no", "--dir", str(workdir),
         "--logfile", str(log)],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )
    server = RedisServer("127.0.0.1", port, password)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if server.client().ping():
                    break
            except redis.exceptions.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start:\n{log.read_text() if log.exists() else ''}") from None
                time.sleep(0.1)
        yield server
    finally:
        stop(process, timeout=10)
