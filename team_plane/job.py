"""The team-plane job's steps, run inside the VPC (services/specs.py `team_plane_steps`):

- plan (LiteLLM image): reads the team document and each team's key secrets, reconciles LiteLLM's
  teams (create, adopt, update what differs, undo logging drift, delete managed teams that left),
  their members (team_plane/litellm_members.py) and their virtual keys (team_plane/litellm_keys.py),
  writes the Langfuse SQL (projects, keys, each team's organization and its members:
  team_plane/langfuse.py, team_plane/langfuse_access.py) and its own results to the shared work
  directory;
- apply (postgres client image): psql runs that SQL in one transaction (no Python there);
- verify (LiteLLM image): first empties Langfuse's API-key cache of every pair apply wrote, deleted
  or moved (team_plane/key_cache.py), then every pair must authenticate as its project on Langfuse;
  prints one line per team (its LiteLLM team, members and keys, its Langfuse project and who may
  read it) and exits 1 when any team failed (the others were still reconciled);
- smoke (LiteLLM image, its own job, after the team plane): one traced call per team
  (team_plane/smoke.py).

Plan fails (non-zero) only when it cannot start at all (no document, no salt) or runs out of its
deadline; a team that cannot be reconciled is recorded and reported by verify. Nothing secret is
printed or written, except the secret keys inside the SQL file (pgcrypto hashes them there), which
apply deletes after its run.

Each step keeps its own deadline (`DEADLINE_VAR`, rendered into its environment by
services/specs.py): its requests and their retries share it, and a process alarm ends the step at
the deadline whatever it is waiting for, so the job's runner (its timeout is the steps' deadlines
and their start-up, services/jobs.py) sees the step's own exit code and report.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from team_plane.document import parse_team_document
from team_plane.http import Deadline
from team_plane.key_cache import RedisError, fast_hashes, invalidate_listed
from team_plane.langfuse import CACHED_KEYS_FILE, REMOVED_PROJECTS_FILE, PairCheck, TeamKeys, langfuse_sql, verify_pair
from team_plane.langfuse_access import ACCESS_FILE, TeamAccess, access_sql, read_access
from team_plane.litellm import (
    LiteLLMAdminClient, LiteLLMAdminError, TeamSpec, ensure_team, remove_teams, stale_managed_teams,
)
from team_plane.litellm_keys import VALUE_FIELD, TeamKey, reconcile_keys
from team_plane.litellm_members import desired_members, reconcile_members
from team_plane.smoke import run_smoke

SQL_FILE = "langfuse.sql"
PLAN_FILE = "plan.json"
DEADLINE_VAR = "LLM_GATEWAY_DEADLINE_SECONDS"
# Transient failures are retried on this schedule until the step's deadline.
RETRY_DELAYS_SECONDS = (1.0, 2.0, 4.0, 8.0, 15.0) + (30.0,) * 19
TIMEOUT_SECONDS = 30.0
# Requests stop this long before the step's deadline: what is left reads the remaining teams'
# secrets and writes the report.
REPORT_RESERVE_SECONDS = 20.0
TIMED_OUT = 124  # as timeout(1) exits

ReadText = Callable[[str], str]  # document location -> its text
FetchKeys = Callable[[str, str], Mapping[str, str]]  # (secret ARN, version id) -> {"publicKey", "secretKey"}


def boto3_reader(location: str) -> str:
    """s3://bucket/key (its latest version), or a file path (the job run by hand)."""
    if not location.startswith("s3://"):
        with open(location) as document:
            return document.read()
    import boto3  # only in the containers that read S3

    bucket, _, key = location[len("s3://"):].partition("/")
    return boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()


def boto3_keys(arn: str, version: str) -> Mapping[str, str]:
    import boto3

    # The exact version the document names (a rotation changes it), not whatever is current.
    value = boto3.client("secretsmanager").get_secret_value(SecretId=arn, VersionId=version)["SecretString"]
    return json.loads(value)


def _keys(fetch: FetchKeys, team: Mapping[str, Any]) -> tuple[TeamKeys | None, str]:
    try:
        value = fetch(team["keySecretArn"], team["keySecretVersion"])
        return TeamKeys(team["name"], value["publicKey"], value["secretKey"]), ""
    except Exception as error:  # noqa: BLE001 (any failure of one team's secret fails that team only)
        return None, f"cannot read its key secret {team['keySecretArn']}: {type(error).__name__}: {error}"


def _team_keys(fetch: FetchKeys, team: Mapping[str, Any]) -> list[TeamKey]:
    """The team's LiteLLM keys with their values, each read at the version the document names."""
    return [TeamKey(key["name"], fetch(key["secretArn"], key["secretVersion"])[VALUE_FIELD], key.get("maxBudget"),
                    tuple(key.get("models") or ()), key["secretArn"]) for key in team.get("keys", ())]


def expired(row: Mapping[str, Any], now: datetime | None = None) -> bool:
    """A LiteLLM key row's `expires` is past (an ISO time; naive ones are UTC, as LiteLLM compares)."""
    if not row.get("expires"):
        return False
    expires = datetime.fromisoformat(str(row["expires"]).replace("Z", "+00:00"))
    return (expires if expires.tzinfo else expires.replace(tzinfo=UTC)) < (now or datetime.now(UTC))


def _reconcile_litellm(client: LiteLLMAdminClient, fetch: FetchKeys, team: Mapping[str, Any],
                       team_admins: bool) -> dict[str, str]:
    """The team, its members and its keys in LiteLLM: the team's result."""
    name = team["name"]
    outcome = ensure_team(client, TeamSpec.from_document(team))
    result = {"status": outcome.split(" ")[0], "detail": f"litellm team {outcome}"}
    members = reconcile_members(client, name, desired_members(team), team_admins)
    try:
        team_keys = _team_keys(fetch, team)
    except Exception as error:  # noqa: BLE001 (a key secret that cannot be read fails this team only)
        why = f"cannot read its LiteLLM key secrets: {type(error).__name__}: {error}"
        return {"status": "failed", "detail": "; ".join(part for part in (result["detail"], members.summary(), why) if part)}
    keys = reconcile_keys(client, name, team_keys, expired)
    failed = bool(members.errors or keys.errors)
    parts = (result["detail"], members.summary(), keys.summary())
    return {"status": "failed" if failed else result["status"], "detail": "; ".join(part for part in parts if part)}


def plan(env: Mapping[str, str], work: str, read: ReadText = boto3_reader, fetch: FetchKeys = boto3_keys,
         sleep: Callable[[float], None] = time.sleep, retry_delays=RETRY_DELAYS_SECONDS,
         deadline: Deadline | None = None) -> dict[str, Any]:
    document = parse_team_document(read(env["LLM_GATEWAY_TEAM_DOCUMENT"]))
    teams = document["teams"]
    results: dict[str, dict[str, str]] = {}
    generated = []
    for team in teams:
        keys, error = _keys(fetch, team)
        if keys is None:
            results[team["name"]] = {"status": "failed", "detail": error}
        elif team["langfuseKeys"] == "generate":
            generated.append(keys)
    client = LiteLLMAdminClient(env["LITELLM_INTERNAL_URL"], env["LITELLM_MASTER_KEY"], timeout_seconds=TIMEOUT_SECONDS,
                                retry_delays=retry_delays, sleep=sleep, deadline=deadline,
                                unreachable_hint="the team-plane job reaches it on its internal address")
    for team in teams:
        try:
            result = _reconcile_litellm(client, fetch, team, bool(document["litellmTeamAdmins"]))
        except LiteLLMAdminError as error:
            results[team["name"]] = {"status": "failed", "detail": f"litellm: {error}"}
        except Exception as error:  # noqa: BLE001 (an answer we did not foresee fails this team, not the others)
            results[team["name"]] = {"status": "failed", "detail": f"litellm: {type(error).__name__}: {error}"}
        else:
            results.setdefault(team["name"], result)
    removed: dict[str, dict[str, str]] = {}
    try:
        stale = stale_managed_teams(client.list_teams(), {team["name"] for team in teams})
    except LiteLLMAdminError as error:
        removed["(removed teams)"] = {"status": "failed", "detail": f"litellm: cannot list teams: {error}"}
        stale = []
    for name, error in remove_teams(client, stale).items():
        removed[name] = ({"status": "removed", "detail": "litellm team deleted"} if error is None
                         else {"status": "failed", "detail": f"litellm: {error}"})
    ours = [team for team in teams if team["langfuseKeys"] == "generate"]  # the projects (and organizations) we own
    sql = langfuse_sql(
        org_id=env["LANGFUSE_ORG_ID"], org_name=env["LANGFUSE_ORG_NAME"], salt=env["SALT"], generated=generated,
        team_orgs=[team["name"] for team in ours],
        document_teams=[team["name"] for team in teams], keep_removed_projects=bool(document["keepRemovedProjects"]),
        removed_projects_path=os.path.join(work, REMOVED_PROJECTS_FILE),
        cached_keys_path=os.path.join(work, CACHED_KEYS_FILE),
        access=access_sql([TeamAccess.from_document(team, document["langfuseAdmin"]) for team in ours]),
        access_path=os.path.join(work, ACCESS_FILE),
    )
    sql_path = os.path.join(work, SQL_FILE)
    with open(os.open(sql_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
        out.write(sql)
    record = {"teams": results, "removed": removed, "keepRemovedProjects": bool(document["keepRemovedProjects"])}
    with open(os.path.join(work, PLAN_FILE), "w") as out:
        json.dump(record, out)
    return record


def verify(env: Mapping[str, str], work: str, read: ReadText = boto3_reader, fetch: FetchKeys = boto3_keys,
           sleep: Callable[[float], None] = time.sleep, retry_delays=RETRY_DELAYS_SECONDS,
           deadline: Deadline | None = None) -> tuple[list[str], bool]:
    """(the report's lines, whether every team was reconciled)."""
    document = parse_team_document(read(env["LLM_GATEWAY_TEAM_DOCUMENT"]))
    with open(os.path.join(work, PLAN_FILE)) as recorded:
        record = json.load(recorded)
    check = PairCheck(env["LANGFUSE_INTERNAL_URL"], timeout_seconds=TIMEOUT_SECONDS, retry_delays=retry_delays, sleep=sleep,
                      deadline=deadline)
    lines, ok = _invalidate_cached_keys(env, work)
    access = _read_listed(work, ACCESS_FILE, read_access, {})
    for team in document["teams"]:
        name = team["name"]
        result = record["teams"].get(name, {"status": "failed", "detail": "not reconciled by the plan step"})
        status, detail = result["status"], result["detail"]
        if status != "failed":
            keys, error = _keys(fetch, team)
            good, said = (False, error) if keys is None else verify_pair(
                check, name, team["langfuseKeys"], keys.public_key, keys.secret_key)
            status, detail = (status, f"{detail}; langfuse {said}") if good else ("failed", f"langfuse: {said}")
        if name in access:
            detail += "; langfuse access: " + ", ".join(f"{email} {state}" for email, state in access.pop(name))
        ok = ok and status != "failed"
        lines.append(f"team {name}: {status} ({detail})")
    removed = dict(record["removed"])
    kept = "kept with its traces, keys deleted" if record["keepRemovedProjects"] else "deleted"
    for project in _read_listed(work, REMOVED_PROJECTS_FILE, str.split, []):
        entry = removed.setdefault(project, {"status": "removed", "detail": "no litellm team"})
        entry["detail"] += f"; langfuse project {kept}"
    for name, emails in access.items():  # teams that left: their organization stays, its members go
        entry = removed.setdefault(name, {"status": "removed", "detail": "no litellm team"})
        entry["detail"] += "; langfuse access removed: " + ", ".join(email for email, _ in emails)
    for name, entry in sorted(removed.items()):
        ok = ok and entry["status"] != "failed"
        lines.append(f"team {name}: {entry['status']} ({entry['detail']})")
    return lines, ok


def _read_listed(work: str, name: str, parse: Callable[[str], Any], absent: Any) -> Any:
    """What psql listed in the work directory; `absent` when apply did not run."""
    path = os.path.join(work, name)
    if not os.path.exists(path):
        return absent
    with open(path) as listed:
        return parse(listed.read())


def _invalidate_cached_keys(env: Mapping[str, str], work: str) -> tuple[list[str], bool]:
    """(the report's line, if any; whether it worked). Nothing listed when apply did not run."""
    path = os.path.join(work, CACHED_KEYS_FILE)
    if not os.path.exists(path):
        return [], True
    with open(path) as listed:
        hashes = fast_hashes(listed.read())
    if not hashes:
        return [], True
    try:
        return [invalidate_listed(env, hashes)], True
    except RedisError as error:
        return [f"langfuse key cache: failed ({error})"], False


class OutOfTime(BaseException):
    """The step's deadline passed (not an Exception: the per-team handlers must not swallow it)."""


def _out_of_time(_signal: int, _frame: Any) -> None:
    raise OutOfTime


def main(argv: list[str]) -> int:
    step, work, env = argv[1], os.environ.get("LLM_GATEWAY_TEAM_PLANE_WORK", "/work"), os.environ
    seconds = int(env[DEADLINE_VAR])
    signal.signal(signal.SIGALRM, _out_of_time)
    signal.alarm(seconds)
    try:
        return _run(step, work, env, Deadline(seconds - REPORT_RESERVE_SECONDS))
    except OutOfTime:
        print(f"llm-gateway team plane: the {step} step ran out of its {seconds} s deadline", file=sys.stderr)
        return TIMED_OUT
    finally:
        signal.alarm(0)


def _run(step: str, work: str, env: Mapping[str, str], deadline: Deadline) -> int:
    if step == "plan":
        record = plan(env, work, deadline=deadline)
        failed = sorted(name for name, result in {**record["teams"], **record["removed"]}.items()
                        if result["status"] == "failed")
        print(f"llm-gateway team plane: planned {len(record['teams'])} teams; failed so far: {', '.join(failed) or 'none'}")
        return 0
    if step == "verify":
        lines, ok = verify(env, work, deadline=deadline)
        for line in lines:
            print(f"llm-gateway team plane: {line}")
        if not ok:
            print("llm-gateway team plane: some teams could not be reconciled (see above)", file=sys.stderr)
        return 0 if ok else 1
    if step == "smoke":
        smokes = run_smoke(env, boto3_reader, boto3_keys, deadline, {
            "timeout_seconds": TIMEOUT_SECONDS, "retry_delays": RETRY_DELAYS_SECONDS, "sleep": time.sleep,
            "deadline": deadline})
        for smoke in smokes:
            print(f"llm-gateway smoke: {smoke.line()}")
        failed = [smoke.team for smoke in smokes if smoke.status == "failed"]
        if failed:
            print(f"llm-gateway smoke: no proof that the calls of {', '.join(failed)} are traced in their own "
                  "Langfuse projects (see above)", file=sys.stderr)
        return 1 if failed else 0
    print(f"llm-gateway team plane: unknown step {step!r}", file=sys.stderr)
    return 2
