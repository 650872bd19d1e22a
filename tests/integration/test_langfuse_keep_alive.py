"""Langfuse web keeps idle connections as long as the `langfuse-web` spec says, with the server code
the image runs: Next.js's standalone `server.js`, built by the Next.js version Langfuse pins
(web/package.json at v4.16.0: next 16.3.0, react 19.2.4; package.json of this repository) from a
one-route app (tests/support/next_server.py, once per pin), and started with the image's command line
and the spec's environment.

The image's command is `node ./web/server.js --keepAliveTimeout 110000` (web/Dockerfile, CMD, at
v4.16.0, the newest source here; the deployed image is 4.50.0). That option belongs to `next start`;
the standalone server.js reads KEEP_ALIVE_TIMEOUT only (next/dist/build/utils.js, the server.js it
writes), so without the variable Node's default keep-alive of 5 s applies, well below the load
balancer's idle timeout. The timeouts are scaled down (tests/support/load.py SCALED); the shipped
ones are checked against the load balancer in tests/unit/test_serving.py. Node here is the
machine's (20+); the image runs Node 24 (web/Dockerfile: node:24-alpine).
"""

from __future__ import annotations

import http.client
import os
import subprocess
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest

from services.specs import langfuse_web
from tests.support.hosts import STAGING_ENDPOINTS
from tests.support import next_server
from tests.support.litellm_proxy import free_port, stop
from tests.support.load import SCALED, closed_by_server
from tests.support.settings import make_settings

pytestmark = pytest.mark.integration

IMAGE_ARGUMENTS = ("--keepAliveTimeout", "110000")  # after `node ./web/server.js`
NODE_DEFAULT_KEEP_ALIVE_SECONDS = 5  # Node's http.Server keepAliveTimeout default (5000 ms)


@contextmanager
def langfuse_web_server(server: Path, environment: Mapping[str, str], logs: Path) -> Iterator[http.client.HTTPConnection]:
    """server.js started as the image starts it, with `environment`, its output in `logs`; a connection to it."""
    port = free_port()
    log = logs / f"server-{port}.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            ["node", server.name, *IMAGE_ARGUMENTS], cwd=server.parent, stdout=output, stderr=subprocess.STDOUT,
            env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **environment, "PORT": str(port)},
        )
    try:
        for _ in range(300):
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                connection.connect()
                break
            except ConnectionRefusedError:
                assert process.poll() is None, log.read_text()
                threading.Event().wait(0.1)
        yield connection
        connection.close()
    finally:
        stop(process, timeout=10)


def served(connection: http.client.HTTPConnection) -> bool:
    connection.request("GET", next_server.READY)
    response = connection.getresponse()
    response.read()
    return response.status == 200 and not response.will_close


def idle(seconds: float) -> None:
    threading.Event().wait(seconds)


def test_langfuse_web_keeps_an_idle_connection_for_the_configured_keep_alive(tmp_path):
    environment = langfuse_web(make_settings(), STAGING_ENDPOINTS, SCALED).environment
    assert int(environment["KEEP_ALIVE_TIMEOUT"]) == SCALED.keep_alive * 1000
    with langfuse_web_server(next_server.server_js(), environment, tmp_path) as connection:
        assert served(connection)
        idle(SCALED.keep_alive - 1)  # just below the keep-alive, past Node's default
        assert not closed_by_server(connection.sock), "closed before its keep-alive"
        assert served(connection)
        assert closed_by_server(connection.sock, within=SCALED.keep_alive + 2), "still open after its keep-alive"


def test_the_images_command_line_option_alone_keeps_nothing(tmp_path):
    """Without KEEP_ALIVE_TIMEOUT (the spec before it had one), `--keepAliveTimeout 110000` changes
    nothing: Node closes the connection after its 5 s default."""
    environment = {name: value for name, value in langfuse_web(make_settings(), STAGING_ENDPOINTS).environment.items()
                   if name != "KEEP_ALIVE_TIMEOUT"}
    with langfuse_web_server(next_server.server_js(), environment, tmp_path) as connection:
        assert served(connection)
        assert closed_by_server(connection.sock, within=NODE_DEFAULT_KEEP_ALIVE_SECONDS + 2)
