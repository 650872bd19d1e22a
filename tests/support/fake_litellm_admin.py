"""A loopback stand-in for the LiteLLM proxy's team admin API, for tests of code that manages teams.

It mirrors litellm 1.104.0 (litellm/proxy/management_endpoints/team_endpoints.py and the proxy's
exception handlers) where callers can tell the difference:

- every route wants `Authorization: Bearer <master key>`; any other key gets the proxy's 401;
- GET /team/list (the master key: every team) returns a JSON list of team rows, each with its
  `team_memberships` and `keys`, sorted by team_alias (list_team, TeamListResponseObject);
- POST /team/new returns the team row; a taken team_id is a 400 "... already exists ...";
- GET /team/info?team_id= returns {team_id, team_info, keys, team_memberships}, or a 404;
- POST /team/update writes exactly the keys it is given (an explicit null clears a limit; a
  budget_duration restarts the budget window) and returns {team_id, data}; unknown team: 404;
- POST /team/delete {"team_ids": [...]} returns {deleted_teams}; any unknown team: FastAPI's 404;
- a team whose row the proxy cannot read (`unreadable`: a database error) is a 404 "Team not found"
  from /team/info and /team/delete, exactly as for a missing team: both wrap any exception of their
  `find_unique` as 404 (team_endpoints.py `team_info`, `delete_team`); /team/new (prisma_client.get_data)
  still finds it ("already exists") and /team/list still lists it;
- POST /team/{team_id}/disable_logging (team_callback_endpoints.py, open to team admins) writes
  `metadata.callback_settings` with empty callbacks and `metadata.logging: []`: from then on the
  proxy ignores the config's `default_team_settings` entry for the team. /team/update with a
  `metadata` object replaces the stored metadata but keeps the system-managed keys.

Teams live in memory; every request is recorded so tests can inspect what was sent.
"""

from __future__ import annotations

import copy
import hashlib
import re
import threading
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, UTC
from typing import Any

from tests.support.loopback import ALB_UNAVAILABLE, LoopbackHandler, RecordedRequest, serving

# Metadata keys only LiteLLM itself writes; /team/update keeps them whatever the body says
# (TeamMemberBudgetHandler.SYSTEM_MANAGED_METADATA_KEYS).
SYSTEM_MANAGED_METADATA_KEYS = ("team_member_budget_id",)
DISABLE_LOGGING = re.compile(r"^/team/([^/]+)/disable_logging$")
# LiteLLM's budget durations (litellm_core_utils/duration_parser.py): a positive count and a unit.
DURATION = re.compile(r"^([1-9]\d*)(s|m|h|d|w|mo)$")
DURATION_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "mo": 2592000}  # mo: 30 days here


def _now() -> datetime:
    return datetime.now(UTC)


def _proxy_error(status: int, message: Any, error_type: str, param: str | None = None) -> tuple[int, dict]:
    """The proxy's ProxyException body; an HTTPException's dict detail arrives as its str()."""
    return status, {"error": {"message": str(message), "type": error_type, "param": param, "code": str(status)}}


def _team_row(team_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    """A LiteLLM_TeamTable as the proxy serializes it, defaults included."""
    now = _now().isoformat()
    row = {
        "team_alias": None, "team_id": team_id, "organization_id": None, "admins": [], "members": [],
        "members_with_roles": [], "team_member_permissions": None, "metadata": {}, "tpm_limit": None,
        "rpm_limit": None, "tpd_limit": None, "max_budget": None, "soft_budget": None, "budget_duration": None,
        "budget_limits": None, "models": [], "blocked": False, "router_settings": {}, "access_group_ids": [],
        "default_team_member_models": None, "spend": 0.0, "max_parallel_requests": None, "budget_reset_at": None,
        "model_id": None, "model_spend": {}, "model_max_budget": {}, "policies": None,
        "allow_team_guardrail_config": False, "litellm_model_table": None, "object_permission": None,
        "object_permission_id": None, "created_at": now, "updated_at": now,
    }
    row.update(fields)
    return row


@dataclass
class FakeLiteLLMAdmin:
    master_key: str
    url: str = ""
    teams: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)
    unavailable_responses: int = 0  # the next N requests get a load balancer's 503
    # Runs before each request is routed: a test's way to change teams behind the client's back.
    on_request: Callable[[RecordedRequest], None] | None = None
    unreadable: set[str] = field(default_factory=set)  # teams whose lookups fail in the proxy's database
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add_team(self, team_id: str, **fields: Any) -> dict[str, Any]:
        """Store a team row with the proxy's defaults; tests use it for teams made elsewhere (admin UI)."""
        self.teams[team_id] = _team_row(team_id, fields)
        return self.teams[team_id]

    def bodies(self) -> list[Any]:
        return [request.body for request in self.requests if request.body is not None]

    # -- routes ---------------------------------------------------------------------------------
    def handle(self, request: RecordedRequest) -> tuple[int, Any]:
        with self._lock:
            self.requests.append(request)
            if self.unavailable_responses:
                self.unavailable_responses -= 1
                return 503, ALB_UNAVAILABLE
            if self.on_request:
                self.on_request(request)
            if request.authorization != f"Bearer {self.master_key}":
                return self._unauthorized(request.authorization)
            route = {
                ("POST", "/team/new"): self._new,
                ("GET", "/team/info"): self._info,
                ("GET", "/team/list"): self._list,
                ("POST", "/team/update"): self._update,
                ("POST", "/team/delete"): self._delete,
            }.get((request.method, request.path))
            if route is None and request.method == "POST" and DISABLE_LOGGING.match(request.path):
                route = self._disable_logging
            return route(request) if route else (404, {"detail": "Not Found"})

    @staticmethod
    def _unauthorized(authorization: str | None) -> tuple[int, dict]:
        if not authorization:
            return _proxy_error(401, "Authentication Error, No api key passed in.", "auth_error", "None")
        key = authorization.removeprefix("Bearer ")
        abbreviated = f"sk-...{key[-4:]}" if len(key) >= 8 else "sk-..."
        return _proxy_error(
            401,
            f"Authentication Error, Invalid proxy server token passed. Received API Key = {abbreviated}, "
            f"Key Hash (Token) ={hashlib.sha256(key.encode()).hexdigest()}. Unable to find token in cache or "
            "`LiteLLM_VerificationTokenTable`",
            "auth_error", "None",
        )

    def _new(self, request: RecordedRequest) -> tuple[int, Any]:
        body = copy.deepcopy(request.body or {})  # the stored row changes later; the recorded request must not
        team_id = body.pop("team_id", None) or str(uuid.uuid4())
        if team_id in self.teams:
            detail = {"error": f"Team id = {team_id} already exists. Please use a different team id."}
            return _proxy_error(400, detail, "internal_server_error")
        error = self._invalid_duration(body)
        if error:
            return error
        body.setdefault("models", [])
        body["budget_reset_at"] = self._reset_at(body.get("budget_duration"))
        return 200, self.add_team(team_id, **body)

    def _info(self, request: RecordedRequest) -> tuple[int, Any]:
        team_id = request.query.get("team_id", [None])[0]
        if team_id is None:
            return _proxy_error(422, {"message": "Malformed request. No team id passed in."}, "auth_error", "None")
        if team_id not in self.teams or team_id in self.unreadable:
            return _proxy_error(404, {"message": f"Team not found, passed team id: {team_id}."}, "auth_error", "None")
        return 200, {"team_id": team_id, "team_info": self.teams[team_id], "keys": [], "team_memberships": []}

    def _list(self, _request: RecordedRequest) -> tuple[int, Any]:
        rows = [{**team, "team_memberships": [], "keys": []} for team in self.teams.values()]
        return 200, sorted(rows, key=lambda row: row["team_alias"] or "")

    def _update(self, request: RecordedRequest) -> tuple[int, Any]:
        body = dict(request.body or {})
        team_id = body.pop("team_id", None)
        if team_id is None:
            return 422, {"detail": [{"type": "missing", "loc": ["body", "team_id"], "msg": "Field required"}]}
        if team_id not in self.teams:
            return _proxy_error(404, {"error": f"Team not found, passed team_id={team_id}"}, "internal_server_error")
        error = self._invalid_duration(body)
        if error:
            return error
        if "budget_duration" in body:
            body["budget_reset_at"] = self._reset_at(body["budget_duration"])
        if isinstance(body.get("metadata"), dict):
            stored = self.teams[team_id]["metadata"]
            body["metadata"] = {**body["metadata"], **{k: stored[k] for k in SYSTEM_MANAGED_METADATA_KEYS if k in stored}}
        self.teams[team_id].update(body, updated_at=_now().isoformat())
        return 200, {"team_id": team_id, "data": self.teams[team_id]}

    def _disable_logging(self, request: RecordedRequest) -> tuple[int, Any]:
        team_id = DISABLE_LOGGING.match(request.path).group(1)
        if team_id not in self.teams:
            return _proxy_error(404, {"error": f"Team id = {team_id} does not exist."}, "internal_server_error")
        metadata = self.teams[team_id]["metadata"]
        metadata["callback_settings"] = {"success_callback": [], "failure_callback": [], "callback_vars": {}}
        metadata["logging"] = []
        return 200, {"status": "success", "message": f"Logging disabled for team {team_id}",
                     "data": {"team_id": team_id, "success_callbacks": [], "failure_callbacks": []}}

    def _delete(self, request: RecordedRequest) -> tuple[int, Any]:
        team_ids = (request.body or {}).get("team_ids", [])
        missing = [team_id for team_id in team_ids if team_id not in self.teams or team_id in self.unreadable]
        if missing:
            # Raised outside the endpoint's exception mapping: FastAPI's own HTTPException body.
            return 404, {"detail": {"error": f"Team not found, passed team_id={missing[0]}"}}
        for team_id in team_ids:
            del self.teams[team_id]
        return 200, {"deleted_teams": team_ids}

    @staticmethod
    def _invalid_duration(body: dict[str, Any]) -> tuple[int, dict] | None:
        duration = body.get("budget_duration")
        if duration is None or DURATION.match(duration):
            return None
        message = f"Invalid budget_duration '{duration}'. Use a format like '1h', '24h', '7d', or '30d'."
        return _proxy_error(400, {"error": message}, "internal_server_error")

    @staticmethod
    def _reset_at(duration: str | None) -> str | None:
        if duration is None:
            return None
        count, unit = DURATION.match(duration).groups()
        return (_now() + timedelta(seconds=int(count) * DURATION_SECONDS[unit])).isoformat()


class _Handler(LoopbackHandler):
    def _serve(self) -> None:
        self.reply(*self.fake.handle(self.recorded_request()))

    do_GET = do_POST = _serve


def running_fake_admin(master_key: str) -> AbstractContextManager[FakeLiteLLMAdmin]:
    """Serve a fake admin API on a free 127.0.0.1 port until the block ends."""
    return serving(FakeLiteLLMAdmin(master_key), _Handler)
