"""The local platform's PostgreSQL serves TLS, so the apps' `sslmode=require` holds as against RDS:
its container's own start script (services/local.py POSTGRES_START) run by dash, with a key
and certificate of the kind the deploy generates (ECDSA P-256, self-signed), ahead of a real
PostgreSQL (Debian's). What the image's entrypoint does first (initdb, then the server as the
postgres user) is stood in for by a few lines; the script's fixed directory is a private tmpfs (a
mount namespace), as the container's own filesystem is. The server refuses a key file others may
read, so it starting at all proves the file's mode and owner."""

from __future__ import annotations

import datetime
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from services.specs import DATABASE_ADMIN_USER
from services.local import POSTGRES, POSTGRES_START, TLS_DIR
from tests.support.litellm_proxy import free_port
from tests.support.postgres_server import _bin

pytestmark = pytest.mark.integration

PASSWORD = "Local0Password0For0Tests0Only000"


def self_signed() -> tuple[str, str]:
    """(certificate, private key) PEMs for the host name `postgres`, as the deploy makes them."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, POSTGRES)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now)
                   .not_valid_after(now + datetime.timedelta(days=365))
                   .add_extension(x509.SubjectAlternativeName([x509.DNSName(POSTGRES)]), critical=False)
                   .sign(key, hashes.SHA256()))
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption())
    return certificate.public_bytes(serialization.Encoding.PEM).decode(), pem.decode()


def entrypoint_stand_in(directory: Path, port: int) -> None:
    """`docker-entrypoint.sh` on PATH: what the official image's does for `postgres ARGS` (a fresh data
    directory initialized for POSTGRES_USER/POSTGRES_PASSWORD, then the server as postgres)."""
    script = directory / "docker-entrypoint.sh"
    script.write_text(f"""#!/bin/sh
set -e
[ "$1" = postgres ] && shift
printf '%s' "$POSTGRES_PASSWORD" > {directory}/pw && chown postgres {directory}/pw
runuser -u postgres -- {_bin('initdb')} -D {directory}/data -U "$POSTGRES_USER" --auth=scram-sha-256 \\
  --pwfile={directory}/pw >/dev/null
exec runuser -u postgres -- {_bin('postgres')} -D {directory}/data -p {port} -k {directory}/data \\
  -c listen_addresses=127.0.0.1 "$@"
""")
    script.chmod(0o755)


def psql(port: int, sslmode: str) -> subprocess.CompletedProcess:
    url = f"postgresql://{DATABASE_ADMIN_USER}:{PASSWORD}@127.0.0.1:{port}/postgres?sslmode={sslmode}"
    return subprocess.run(["psql", url, "--no-psqlrc", "--tuples-only", "--no-align", "-c",
                           "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"],
                          capture_output=True, text=True, timeout=30)


def serve(script: str, environment: dict[str, str]):
    """Runs `script` with dash in a private mount namespace (TLS_DIR's parent a fresh tmpfs)."""
    directory = Path(tempfile.mkdtemp(prefix="llm-gateway-local-postgres-"))
    os.chown(directory, 0, 0)
    directory.chmod(0o755)
    port = free_port()
    entrypoint_stand_in(directory, port)
    (directory / "data").mkdir()
    os.chown(directory / "data", *_postgres_ids())
    env = {"PATH": f"{directory}:{os.environ['PATH']}", "POSTGRES_USER": DATABASE_ADMIN_USER,
           "POSTGRES_PASSWORD": PASSWORD, "POSTGRES_DB": "postgres", **environment}
    process = subprocess.Popen(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c",
         f'mount -t tmpfs tmpfs {os.path.dirname(TLS_DIR)} && exec dash -c "$0"', script],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    return process, port, directory


def _postgres_ids() -> tuple[int, int]:
    import pwd

    entry = pwd.getpwnam("postgres")
    return entry.pw_uid, entry.pw_gid


def wait_ready(process: subprocess.Popen, port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server ended ({process.returncode}): {process.stdout.read()}")
        if subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", str(port)], capture_output=True).returncode == 0:
            return
        time.sleep(0.3)
    raise AssertionError("the server did not answer within 60 s")


def stop(process: subprocess.Popen, directory: Path) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def tls():
    certificate, key = self_signed()
    return {"POSTGRES_TLS_CERTIFICATE": certificate, "POSTGRES_TLS_KEY": key}


def test_the_container_serves_tls_and_require_connects_over_it(tls):
    process, port, directory = serve(POSTGRES_START, tls)
    try:
        wait_ready(process, port)
        answer = psql(port, "require")  # as db-init (PGSSLMODE) and the apps' database URLs ask
        assert answer.returncode == 0, answer.stderr
        assert answer.stdout.strip() == "t"
    finally:
        stop(process, directory)


def test_without_the_certificate_require_is_refused():
    """What the apps' URLs would meet on a stock server: the reason the container serves TLS."""
    plain = POSTGRES_START.split("exec docker-entrypoint.sh", 1)[0].split("umask 077", 1)[0] + "exec docker-entrypoint.sh postgres\n"
    process, port, directory = serve(plain, {})
    try:
        wait_ready(process, port)
        answer = psql(port, "require")
        assert answer.returncode != 0
        assert "server does not support SSL, but SSL was required" in answer.stderr
    finally:
        stop(process, directory)
