"""Where the team plane's containers read key values: Secrets Manager on AWS, the container's own
environment on the local platform (compute: local), which has no Secrets Manager.

The start (team_plane/litellm_start.py) and the job's steps (team_plane/job.py) ask
`secrets_client(os.environ)` for a client and make the same two Secrets Manager calls either way:
`batch_get_secret_value(SecretIdList=...)` and `get_secret_value(SecretId=..., VersionId=...)`.
With `LLM_GATEWAY_KEY_SOURCE=environment`, `EnvironmentKeys` answers them from one secret variable,
`LLM_GATEWAY_KEYS`, which the deploy renders with `environment_keys`: each secret's id (what the
team document names as its key secret), its version and its value. A secret the variable does not
hold is answered as Secrets Manager answers an unknown one, and a version other than the one it
holds is refused, so the start's refusals (a team whose keys cannot be read) and the job's "the
version the document names" hold on both platforms.

Why the environment: the values are Pulumi secrets that reach the container like its other secrets
(the local platform has no secret store to fetch from, and a file on a volume would sit on the disk
in plain text); a changed key changes the variable, which replaces the container, as a changed
secret version restarts an ECS task. Anyone who may use the Docker socket reads a container's
environment (`docker inspect`); on a laptop, that is its owner.

Standard library only (boto3 when Secrets Manager is the source): it runs in the LiteLLM image,
embedded like the rest of the team plane (team_plane/embed.py).
"""

import json

KEY_SOURCE_VAR = "LLM_GATEWAY_KEY_SOURCE"
KEYS_VAR = "LLM_GATEWAY_KEYS"
ENVIRONMENT = "environment"
# Secrets Manager's own error code for a secret it does not hold (API reference, GetSecretValue).
NOT_FOUND = "ResourceNotFoundException"
# Linux refuses an execve whose one environment string is longer than 32 pages (include/uapi/linux/
# binfmts.h MAX_ARG_STRLEN): the container would not start.
MAX_VARIABLE_BYTES = 32 * 4096


class KeyNotFound(Exception):
    """A secret the source does not hold, or not at the version asked for."""


class EnvironmentKeys:
    """The two Secrets Manager calls of the team plane, answered from `LLM_GATEWAY_KEYS`."""

    def __init__(self, text):
        self._secrets = json.loads(text) if text else {}

    def batch_get_secret_value(self, SecretIdList):  # noqa: N803 (Secrets Manager's parameter name)
        found = [secret_id for secret_id in SecretIdList if secret_id in self._secrets]
        return {
            "SecretValues": [{"ARN": secret_id, "SecretString": json.dumps(self._secrets[secret_id]["value"]),
                              "VersionId": self._secrets[secret_id]["version"]} for secret_id in found],
            "Errors": [{"SecretId": secret_id, "ErrorCode": NOT_FOUND,
                        "Message": f"{KEYS_VAR} holds no secret {secret_id}"}
                       for secret_id in SecretIdList if secret_id not in self._secrets],
        }

    def get_secret_value(self, SecretId, VersionId=None):  # noqa: N803
        secret = self._secrets.get(SecretId)
        if secret is None:
            raise KeyNotFound(f"{NOT_FOUND}: {KEYS_VAR} holds no secret {SecretId}")
        if VersionId is not None and VersionId != secret["version"]:
            raise KeyNotFound(f"{NOT_FOUND}: {KEYS_VAR} holds {SecretId} at version {secret['version']}, "
                              f"not {VersionId}")
        return {"ARN": SecretId, "VersionId": secret["version"], "SecretString": json.dumps(secret["value"])}


def secrets_client(environ):
    """The client the start and the job read key values with, as the environment selects it."""
    source = environ.get(KEY_SOURCE_VAR)
    if source == ENVIRONMENT:
        return EnvironmentKeys(environ.get(KEYS_VAR, ""))
    if source:
        raise ValueError(f"{KEY_SOURCE_VAR}={source!r}: the only other source is {ENVIRONMENT!r}")
    import boto3  # only where Secrets Manager is the source

    return boto3.client("secretsmanager")


def environment_keys(secrets):
    """`LLM_GATEWAY_KEYS` for {secret id: (version, value)}, `value` a JSON object; refuses what no
    process could be started with."""
    text = json.dumps({secret_id: {"version": version, "value": value}
                       for secret_id, (version, value) in sorted(secrets.items())}, sort_keys=True)
    size = len(f"{KEYS_VAR}={text}".encode())
    if size > MAX_VARIABLE_BYTES:
        raise ValueError(f"{KEYS_VAR} would hold {len(secrets)} keys in {size} bytes: Linux starts no process with an "
                         f"environment string over {MAX_VARIABLE_BYTES} bytes; the local stack cannot carry this many "
                         "teams' keys")
    return text
