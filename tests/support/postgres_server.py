"""Start a real PostgreSQL (Debian's, installed by scripts/install-system-deps.sh) on a loopback
port in a temporary data directory. The server refuses to run as root (CI runs as root), so it runs
as the `postgres` system user the Debian package creates."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.litellm_proxy import free_port


@dataclass(frozen=True)
class PostgresServer:
    port: int

    def url(self, user: str, password: str, database: str) -> str:
        return f"postgresql://{user}:{password}@127.0.0.1:{self.port}/{database}"

    def psql(self, url: str, sql: str, *args: str) -> str:
        """Runs `sql` with psql (ON_ERROR_STOP), returns its unaligned, tuples-only output."""
        result = subprocess.run(["psql", url, "--no-psqlrc", "--quiet", "-v", "ON_ERROR_STOP=1", "--tuples-only",
                                 "--no-align", *args], input=sql, capture_output=True, text=True, timeout=120)
        if result.returncode:
            raise RuntimeError(f"psql failed ({result.returncode}): {result.stderr}")
        return result.stdout


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found or shutil.which("psql") is None:  # never skip: `make test` installs it
        raise RuntimeError("postgresql is missing: run scripts/install-system-deps.sh (make test does)")
    return found[-1]


def _as_postgres(*command: str) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else list(command)


@contextmanager
def running_postgres(superuser_password: str) -> Iterator[PostgresServer]:
    # Its own directory under /tmp: pytest's are private to root, and the server runs as postgres.
    workdir = Path(tempfile.mkdtemp(prefix="llm-gateway-postgres-"))
    data = workdir / "pgdata"
    data.mkdir()
    password_file = workdir / "pgpass"
    password_file.write_text(superuser_password)
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres")
        shutil.chown(data, "postgres")
        shutil.chown(password_file, "postgres")
    subprocess.run(_as_postgres(_bin("initdb"), "-D", str(data), "-U", "postgres", "--auth=scram-sha-256",
                                f"--pwfile={password_file}", "--encoding=UTF8"),
                   check=True, capture_output=True, timeout=120)
    port = free_port()
    options = f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1"
    pg_ctl = _bin("pg_ctl")
    subprocess.run(_as_postgres(pg_ctl, "-D", str(data), "-o", options, "-l", str(workdir / "postgres.log"), "-w",
                                "start"), check=True, capture_output=True, timeout=120)
    try:
        yield PostgresServer(port)
    finally:
        subprocess.run(_as_postgres(pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"), capture_output=True,
                       timeout=120)
        shutil.rmtree(workdir, ignore_errors=True)
