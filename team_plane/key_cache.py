"""Langfuse's API-key cache, emptied of exactly the pairs the team plane wrote or deleted.

Langfuse web caches every key lookup in its Redis (langfuse v4.16.0
web/src/features/public-api/server/apiAuth.ts `fetchApiKeyAndAddToRedis`, `addApiKeyToRedis`) under
`api-key:<createShaHash(secret key, SALT)>` (packages/shared/src/server/auth/apiKeyCache.ts): the
key with its project, or "api-key-non-existent" for a secret it does not know, and every read
refreshes the entry's TTL (`getex ... EX LANGFUSE_CACHE_API_KEY_TTL_SECONDS`, default 300 s,
web/src/env.mjs). So a pair used before the team plane wrote it (LiteLLM rolls onto a rotated pair
before the job runs) stays refused while it keeps being used, and a deleted pair keeps
authenticating likewise. Once apply has committed, verify deletes the entry of every pair the SQL
wrote or deleted (team_plane/langfuse.py lists their fast hashes), as Langfuse's own key deletion
does (packages/shared/src/server/auth/invalidateApiKeys.ts `invalidateCachedApiKeys`): the next
request with that pair reads the database.

A request that read the database before the commit could still write its answer after the
deletion; verify runs seconds after apply's commit, far longer than a lookup takes.

Standard library only (RESP over a socket, TLS with the system's CAs, as LiteLLM's redis-py does in
the same image): Langfuse's Redis, with its address, TLS switch and auth token as Langfuse gets them.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Mapping, Sequence

CACHE_KEY_PREFIX = "api-key:"
KEYS_PER_COMMAND = 500
TIMEOUT_SECONDS = 10.0


class RedisError(Exception):
    """Redis could not be reached or refused a command."""


class RedisConnection:
    """One connection speaking RESP (https://redis.io/docs/latest/develop/reference/protocol-spec/)."""

    def __init__(self, host: str, port: int, *, password: str | None, tls: bool, timeout: float = TIMEOUT_SECONDS):
        self._socket = socket.create_connection((host, port), timeout=timeout)
        if tls:
            self._socket = ssl.create_default_context().wrap_socket(self._socket, server_hostname=host)
        self._reader = self._socket.makefile("rb")
        if password:
            self.command("AUTH", password)

    def command(self, *args: str) -> int | str:
        encoded = [arg.encode() for arg in args]
        self._socket.sendall(b"*%d\r\n" % len(encoded) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in encoded))
        line = self._reader.readline()
        kind, value = line[:1], line[1:].rstrip(b"\r\n").decode()
        if kind == b"-":
            raise RedisError(f"Redis refused {args[0]}: {value}")
        if kind == b":":
            return int(value)
        if kind == b"+":
            return value
        raise RedisError(f"unexpected answer to {args[0]}: {line[:100]!r}")

    def close(self) -> None:
        self._reader.close()
        self._socket.close()


def fast_hashes(text: str) -> list[str]:
    """The hashes psql listed, one per line (NULL columns print empty lines)."""
    return sorted({line.strip() for line in text.splitlines() if line.strip()})


def invalidate(redis: RedisConnection, hashes: Sequence[str]) -> int:
    """Deletes `api-key:<hash>` for each hash; returns how many entries existed."""
    keys = [CACHE_KEY_PREFIX + fast_hash for fast_hash in hashes]
    return sum(int(redis.command("DEL", *keys[start:start + KEYS_PER_COMMAND]))
               for start in range(0, len(keys), KEYS_PER_COMMAND))


def invalidate_listed(env: Mapping[str, str], hashes: Sequence[str]) -> str:
    """Connects to Langfuse's Redis as its environment describes it (REDIS_HOST, REDIS_PORT,
    REDIS_TLS_ENABLED, REDIS_AUTH) and invalidates `hashes`; the report's line."""
    try:
        redis = RedisConnection(env["REDIS_HOST"], int(env["REDIS_PORT"]), password=env.get("REDIS_AUTH"),
                                tls=env.get("REDIS_TLS_ENABLED") == "true")
        try:
            deleted = invalidate(redis, hashes)
        finally:
            redis.close()
    except (OSError, RedisError) as error:
        raise RedisError(f"cannot invalidate Langfuse's cached keys at {env['REDIS_HOST']}:{env['REDIS_PORT']}: "
                         f"{type(error).__name__}: {error}") from error
    return f"langfuse key cache: {len(hashes)} pairs invalidated ({deleted} were cached)"
