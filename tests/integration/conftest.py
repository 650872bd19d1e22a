from collections.abc import Iterator

import pytest

from tests.support.langfuse_db import running_langfuse_postgres
from tests.support.postgres_server import PostgresServer


@pytest.fixture(scope="session")
def postgres() -> Iterator[tuple[PostgresServer, str]]:
    """One PostgreSQL with Langfuse's role (starting one takes seconds) for the tests of what the team
    plane writes in Langfuse's database: each test takes a database of its own. Their modules share an
    xdist group, so one worker starts it once."""
    with running_langfuse_postgres() as server_and_master:
        yield server_and_master
