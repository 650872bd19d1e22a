"""The boto3 session of the deploy's own AWS calls, built as the stack's AWS provider signs
(config/deploy_credentials.py): the named profile (or the default chain without one), then each role of
aws:assumeRoles assumed in turn with the previous hop's credentials, refreshed before they expire.

Dynamic providers call these functions by reference from the engine's provider process (see
components/one_off_task.py): keep this module path and the names stable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import boto3
import botocore.session
from botocore.credentials import RefreshableCredentials

from config.deploy_credentials import assume_role_request


def deploy_session(region: str, credentials: Mapping[str, Any] | None) -> boto3.session.Session:
    """A new session per call: the engine calls providers from several threads at once, and boto3's
    shared default session is not safe to create clients from concurrently. `credentials` is
    DeployCredentials.as_input(); None (state written before it existed) is the default chain."""
    credentials = credentials or {}
    session = boto3.session.Session(profile_name=credentials.get("profile"), region_name=region)
    for role in credentials.get("assume_roles") or ():
        session = _assumed(session, role, region)
    return session


def _assumed(source: boto3.session.Session, role: Mapping[str, Any], region: str) -> boto3.session.Session:
    sts = source.client("sts", region_name=region)

    def fetch() -> dict[str, str]:
        issued = sts.assume_role(**assume_role_request(role))["Credentials"]
        return {"access_key": issued["AccessKeyId"], "secret_key": issued["SecretAccessKey"],
                "token": issued["SessionToken"], "expiry_time": issued["Expiration"].isoformat()}

    assumed = botocore.session.get_session()
    # botocore has no public setter for a session's credentials; boto3's own assume-role support sits
    # behind profiles (config files), which the stack's config is not.
    assumed._credentials = RefreshableCredentials.create_from_metadata(fetch(), fetch, "assume-role")
    return boto3.session.Session(botocore_session=assumed, region_name=region)
