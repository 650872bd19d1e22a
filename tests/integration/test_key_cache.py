"""team_plane/key_cache.py against a real redis-server: over TLS with an auth token, as ElastiCache
serves Langfuse's Redis, with the server's certificate checked; a wrong token is refused by name.
(What it deletes, after the real SQL: tests/integration/test_team_plane_sql.py.)"""

from __future__ import annotations

import pytest

from team_plane.key_cache import RedisError, invalidate_listed
from tests.support.litellm_proxy import random_master_key
from tests.support.redis_server import RedisServer, running_redis_server

pytestmark = pytest.mark.integration

WRITTEN, ROTATED_AWAY, OTHER = "a" * 64, "b" * 64, "c" * 64


def env(redis: RedisServer, *, tls: bool, password: str | None = None) -> dict[str, str]:
    return {"REDIS_HOST": redis.host, "REDIS_PORT": str(redis.port), "REDIS_TLS_ENABLED": str(tls).lower(),
            "REDIS_AUTH": password or redis.password}


def test_invalidates_over_tls_with_the_auth_token(tmp_path, monkeypatch):
    with running_redis_server(tmp_path, random_master_key(), tls=True) as redis:
        cache = redis.client()
        cache.set(f"api-key:{ROTATED_AWAY}", "{}", ex=300)
        cache.set(f"api-key:{OTHER}", "{}", ex=300)
        # The system's CAs, as in the container; here they are the test CA's.
        monkeypatch.setenv("SSL_CERT_FILE", redis.ca_file)

        line = invalidate_listed(env(redis, tls=True), [WRITTEN, ROTATED_AWAY])

        assert line == "langfuse key cache: 2 pairs invalidated (1 were cached)"
        assert cache.keys("*") == [f"api-key:{OTHER}"]


def test_a_certificate_the_system_does_not_trust_is_refused(tmp_path):
    refusal = r"cannot invalidate Langfuse's cached keys at localhost:\d+: SSLCertVerificationError: .*certificate verify failed"
    with running_redis_server(tmp_path, random_master_key(), tls=True) as redis, pytest.raises(RedisError, match=refusal):
        invalidate_listed(env(redis, tls=True), [WRITTEN])


def test_a_wrong_auth_token_is_refused_without_echoing_it(tmp_path):
    with running_redis_server(tmp_path, random_master_key()) as redis:
        wrong = random_master_key()
        with pytest.raises(RedisError, match=r"Redis refused AUTH: WRONGPASS") as refused:
            invalidate_listed(env(redis, tls=False, password=wrong), [WRITTEN])
        assert wrong not in str(refused.value)
