"""Start a real redis-server (Debian's, installed by scripts/install-system-deps.sh) on a loopback
port with a password, as the stack's Valkey runs: `noeviction`, no persistence needed here; with
`tls`, it serves TLS only (as ElastiCache with in-transit encryption), with a certificate for
`localhost` signed by a throwaway CA made with openssl."""

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
    ca_file: str | None = None  # the CA of its TLS certificate; None: plain TCP

    def client(self, db: int = 0) -> redis.Redis:
        tls = {"ssl": True, "ssl_ca_certs": self.ca_file} if self.ca_file else {}
        return redis.Redis(host=self.host, port=self.port, password=self.password, db=db, decode_responses=True, **tls)


def _tls_files(workdir: Path) -> tuple[str, ...]:
    """(CA certificate, server certificate, server key) for `localhost`."""
    ca, cert, key = (str(workdir / name) for name in ("redis-ca.pem", "redis-cert.pem", "redis-key.pem"))
    openssl = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    subprocess.run([*openssl, "-keyout", str(workdir / "redis-ca-key.pem"), "-out", ca, "-subj", "/CN=test CA"],
                   check=True, capture_output=True)
    subprocess.run([*openssl, "-keyout", key, "-out", cert, "-subj", "/CN=localhost", "-CA", ca,
                    "-CAkey", str(workdir / "redis-ca-key.pem"), "-addext", "subjectAltName=DNS:localhost"],
                   check=True, capture_output=True)
    return ca, cert, key


@contextmanager
def running_redis_server(workdir: Path, password: str, *, tls: bool = False) -> Iterator[RedisServer]:
    binary = shutil.which("redis-server")
    if binary is None:  # never skip: `make test` installs it
        raise RuntimeError("redis-server is missing: run scripts/install-system-deps.sh (make test does)")
    port = free_port()
    log = workdir / f"redis-{port}.log"
    listen = ["--port", str(port)]
    ca = None
    if tls:
        ca, cert, key = _tls_files(workdir)
        listen = ["--port", "0", "--tls-port", str(port), "--tls-cert-file", cert, "--tls-key-file", key,
                  "--tls-ca-cert-file", ca, "--tls-auth-clients", "no"]
    process = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", *listen, "--requirepass", password,
         "--maxmemory-policy", "noeviction", "--save", "", "--appendonly", "no", "--dir", str(workdir),
         "--logfile", str(log)],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )
    server = RedisServer("localhost" if tls else "127.0.0.1", port, password, ca)
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
