"""The local platform's PostgreSQL serves TLS with a certificate it makes itself, so the apps'
`sslmode=require` holds as against RDS: its container's own start script (services/local.py
POSTGRES_START) run by dash as root, with /usr/bin/openssl (the image's is Debian's too), ahead of a
real PostgreSQL (Debian's). What the image's entrypoint does after it (initdb on an empty PGDATA,
then the server as the postgres user) is stood in for by a few lines. The script's fixed paths are
the container's: a private mount namespace puts a directory of the test's own at the data volume's
mount point, where Docker mounts the volume. The server refuses a key file others may read, so it
starting at all proves the key's mode and owner."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from services.local import POSTGRES, POSTGRES_START, POSTGRES_VOLUME_PATH, TLS_DIR, postgres
from services.specs import DATABASE_ADMIN_USER
from tests.support.litellm_proxy import free_port
from tests.support.postgres_server import _bin

pytestmark = pytest.mark.integration

PASSWORD = "Local0Password0For0Tests0Only000"
PEM = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----\n", re.S)


def entrypoint_stand_in(directory: Path, port: int) -> None:
    """`docker-entrypoint.sh` on PATH: what the official image's does for `postgres ARGS` (an empty
    PGDATA initialized for POSTGRES_USER/POSTGRES_PASSWORD, then the server as postgres)."""
    script = directory / "docker-entrypoint.sh"
    script.write_text(f"""#!/bin/sh
set -e
[ "$1" = postgres ] && shift
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  mkdir -p "$PGDATA" && chown postgres "$PGDATA" && chmod 700 "$PGDATA"
  printf '%s' "$POSTGRES_PASSWORD" > {directory}/pw && chown postgres {directory}/pw
  runuser -u postgres -- {_bin('initdb')} -D "$PGDATA" -U "$POSTGRES_USER" --auth=scram-sha-256 \\
    --pwfile={directory}/pw >/dev/null
fi
exec runuser -u postgres -- {_bin('postgres')} -D "$PGDATA" -p {port} -k "$PGDATA" -c listen_addresses=127.0.0.1 "$@"
""")
    script.chmod(0o755)


@pytest.fixture
def volume():
    """The data volume as Docker makes a new one for the image: owned by postgres, mode 1777 (the
    image's /var/lib/postgresql/data). Under /tmp: pytest's directories are private to root, and the
    server runs as postgres."""
    directory = Path(tempfile.mkdtemp(prefix="llm-gateway-local-postgres-"))
    directory.chmod(0o755)
    data = directory / "volume"
    data.mkdir()
    entry = pwd.getpwnam("postgres")
    os.chown(data, entry.pw_uid, entry.pw_gid)
    data.chmod(0o1777)
    yield data
    shutil.rmtree(directory, ignore_errors=True)


def serve(script: str, volume: Path) -> tuple[subprocess.Popen, int]:
    """Runs `script` with dash, as the container's entrypoint runs it: its environment, and `volume`
    at the data volume's mount point in a private mount namespace."""
    spec = postgres()
    port = free_port()
    entrypoint_stand_in(volume.parent, port)
    env = {"PATH": f"{volume.parent}:{os.environ['PATH']}", **spec.environment, "POSTGRES_PASSWORD": PASSWORD}
    mount = (f"mount -t tmpfs tmpfs {os.path.dirname(POSTGRES_VOLUME_PATH)} && mkdir {POSTGRES_VOLUME_PATH} && "
             f"mount --bind {volume} {POSTGRES_VOLUME_PATH}")
    process = subprocess.Popen(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", f'{mount} && exec dash -c "$0"', script],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    return process, port


def wait_ready(process: subprocess.Popen, port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server ended ({process.returncode}): {process.stdout.read()}")
        if subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", str(port)], capture_output=True).returncode == 0:
            return
        time.sleep(0.3)
    raise AssertionError("the server did not answer within 60 s")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def psql(port: int, sslmode: str) -> subprocess.CompletedProcess:
    url = f"postgresql://{DATABASE_ADMIN_USER}:{PASSWORD}@127.0.0.1:{port}/postgres?sslmode={sslmode}"
    return subprocess.run(["psql", url, "--no-psqlrc", "--tuples-only", "--no-align", "-c",
                           "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"],
                          capture_output=True, text=True, timeout=30)


def served_certificate(port: int) -> x509.Certificate:
    """The certificate the server presents (PostgreSQL's own TLS negotiation: `-starttls postgres`)."""
    shown = subprocess.run(["openssl", "s_client", "-starttls", "postgres", "-connect", f"127.0.0.1:{port}"],
                           input="", capture_output=True, text=True, timeout=30)
    found = PEM.search(shown.stdout)
    assert found, shown.stdout + shown.stderr
    return x509.load_pem_x509_certificate(found.group().encode())


def in_volume(volume: Path, path: str) -> Path:
    return volume / Path(path).relative_to(POSTGRES_VOLUME_PATH)


def started(volume: Path) -> tuple[x509.Certificate, str]:
    """Starts the container on `volume`; its served certificate and what `sslmode=require` met."""
    process, port = serve(POSTGRES_START, volume)
    try:
        wait_ready(process, port)
        answer = psql(port, "require")  # as db-init (PGSSLMODE) and the apps' database URLs ask
        assert answer.returncode == 0, answer.stderr
        return served_certificate(port), answer.stdout.strip()
    finally:
        stop(process)


def test_the_first_start_makes_a_certificate_in_the_volume_and_require_connects_over_it(volume):
    served, over_tls = started(volume)

    assert over_tls == "t"
    made = x509.load_pem_x509_certificate(in_volume(volume, f"{TLS_DIR}/server.crt").read_bytes())
    assert served == made  # what it serves is what it made, in its volume
    assert made.subject == made.issuer and made.subject.rfc4514_string() == f"CN={POSTGRES}"
    names = made.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == [POSTGRES]
    assert isinstance(made.public_key(), ec.EllipticCurvePublicKey) and made.public_key().curve.name == "secp256r1"
    assert (made.not_valid_after_utc - made.not_valid_before_utc).days == 3650
    key = in_volume(volume, f"{TLS_DIR}/server.key").stat()
    assert (key.st_mode & 0o777, key.st_uid) == (0o600, pwd.getpwnam("postgres").pw_uid)
    assert (in_volume(volume, postgres().environment["PGDATA"]) / "PG_VERSION").exists()  # the cluster beside it


def test_a_restart_serves_the_same_certificate(volume):
    first, _ = started(volume)
    again, over_tls = started(volume)

    assert over_tls == "t" and again == first


def test_a_start_ended_before_it_handed_the_files_to_postgres_is_repaired_by_the_next(volume):
    """The container stopped between openssl and chown: the files are there, owned by root, which the
    server cannot read."""
    first, _ = started(volume)
    for name in ("server.key", "server.crt"):
        os.chown(in_volume(volume, f"{TLS_DIR}/{name}"), 0, 0)

    again, over_tls = started(volume)

    assert over_tls == "t" and again == first


def test_without_tls_require_is_refused(volume):
    """What the apps' URLs would meet on a stock server: the reason the container serves TLS."""
    process, port = serve("exec docker-entrypoint.sh postgres\n", volume)
    try:
        wait_ready(process, port)
        answer = psql(port, "require")
        assert answer.returncode != 0
        assert "server does not support SSL, but SSL was required" in answer.stderr
    finally:
        stop(process)
