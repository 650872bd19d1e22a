"""A loopback stand-in for the LiteLLM proxy's admin API, for tests of code that manages teams, their
members and their virtual keys.

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

Members (`members_with_roles` on the team row: [{role, user_id, user_email}]; users in `users`):
- POST /team/member_add {team_id, member: {user_email | user_id, role}}: `role: "admin"` without a
  licence (premium_user) -> 400 {"detail": {"error": "Assigning team admins is a premium feature. ..."}}
  (team_call_validation_checks, an HTTPException FastAPI renders); unknown team -> 404; a single
  member whose user_id or user_email equals (exact string) one in the roster -> 400
  team_member_already_in_team; an e-mail resolves to an existing user case-insensitively, else a
  user is created with a fresh uuid (management_helpers/utils.py add_new_member);
- POST /team/member_update {team_id, user_id | user_email, role}: admin without a licence -> 400
  (its detail is a plain string there); unknown team -> 400; a member found by user_id, or by the
  exact e-mail in the roster, else 400;
- POST /team/member_delete {team_id, user_id | user_email}: unknown team -> 400; matched by exact
  user_id or exact e-mail, else 400 "User not found in team"; removes the roster entry, the team from
  the user's teams, and deletes (archiving them) every key of that user for that team.

Keys (rows keyed by sha256 of the key, LiteLLM_VerificationToken; deleted rows archived):
- POST /key/generate: `key` must start with "sk-" and have >= 16 characters (MINIMUM_CUSTOM_KEY_LENGTH)
  -> else 400; an alias with a ".." path segment or a control character -> 400 "Invalid key_alias";
  an alias any live key has -> 400 "Key with alias '...' already exists. ..."; a negative budget ->
  400; the stack's key policy (team_plane/litellm_guard.py) refuses `metadata.logging` with 403;
  the row is an upsert that keeps an existing row untouched (utils.py insert_data: `update={}`),
  `duration` sets `expires`; answers the raw key and its hash (`token`);
- GET /key/info?key=<raw or hash>: {key, info} with `status` active|expired|revoked|deleted (the
  archive), else 404 "Key not found in database";
- POST /key/update {key: raw or hash, ...}: a merge patch of the given fields (explicit null
  clears); unknown key -> 404 "Key not found.";
- POST /key/delete {keys: [raw or hash]}: archives and deletes them; none found -> 404 "No keys found";
- GET /key/list?team_id=&return_full_object=&page=&size=: live keys, newest first; `size` 1..100;
- POST /team/delete also deletes the team's keys.

Teams, users and keys live in memory; every request is recorded so tests can inspect what was sent.
"""

from __future__ import annotations

import copy
import hashlib
import re
import threading
import uuid
import secrets
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
# litellm/proxy/_types.py CommonProxyErrors.not_premium_user
NOT_PREMIUM = ("You must be a LiteLLM Enterprise user to use this feature. If you have a license please set "
               "`LITELLM_LICENSE` in your env. Get a 7 day trial key here: https://www.litellm.ai/enterprise#trial. "
               "\nPricing: https://www.litellm.ai/#pricing")
MINIMUM_CUSTOM_KEY_LENGTH = 16  # litellm/constants.py
# litellm/secret_managers/base_secret_manager.py: ".." as a path segment; control characters.
UNSAFE_ALIAS = re.compile(r"(^|/)\.\.(/|$)|[\x00-\x1f\x7f]")
KEY_FIELDS = ("key_alias", "team_id", "user_id", "models", "max_budget", "budget_duration", "metadata",
              "tpm_limit", "rpm_limit", "blocked")

def hash_token(token: str) -> str:
    """_hash_token_if_needed: keys starting with sk- are hashed, anything else is taken as a hash."""
    return hashlib.sha256(token.encode()).hexdigest() if token.startswith("sk-") else token

def _detail(status: int, detail: Any) -> tuple[int, dict]:
    """An HTTPException that reaches FastAPI's own handler."""
    return status, {"detail": detail}


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
    premium: bool = False  # LITELLM_LICENSE verified
    users: dict[str, dict[str, Any]] = field(default_factory=dict)  # user_id -> row
    keys: dict[str, dict[str, Any]] = field(default_factory=dict)  # hash -> live row
    deleted_keys: dict[str, dict[str, Any]] = field(default_factory=dict)  # hash -> archived row
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
                ("POST", "/team/member_add"): self._member_add,
                ("POST", "/team/member_update"): self._member_update,
                ("POST", "/team/member_delete"): self._member_delete,
                ("POST", "/key/generate"): self._key_generate,
                ("GET", "/key/info"): self._key_info,
                ("POST", "/key/update"): self._key_update,
                ("POST", "/key/delete"): self._key_delete,
                ("GET", "/key/list"): self._key_list,
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
        for token in [t for t, row in self.keys.items() if row["team_id"] in team_ids]:
            self._archive(token)  # deleting a team deletes its keys (team_endpoints.py delete_team)
        return 200, {"deleted_teams": team_ids}

    def roster(self, team_id: str) -> list[dict[str, Any]]:
        return self.teams[team_id].setdefault("members_with_roles", [])

    def add_member(self, team_id: str, email: str, role: str = "user") -> dict[str, Any]:
        """A member added elsewhere (the admin UI)."""
        user = self._user_by_email(email) or self._new_user(email)
        member = {"role": role, "user_id": user["user_id"], "user_email": email}
        self.roster(team_id).append(member)
        user["teams"].append(team_id)
        return member

    # -- members ----------------------------------------------------------------------------------
    def _user_by_email(self, email: str) -> dict[str, Any] | None:
        return next((u for u in self.users.values() if (u["user_email"] or "").lower() == email.lower()), None)

    def _new_user(self, email: str | None, user_id: str | None = None) -> dict[str, Any]:
        user = {"user_id": user_id or str(uuid.uuid4()), "user_email": email, "user_role": "internal_user", "teams": []}
        self.users[user["user_id"]] = user
        return user

    def _member_add(self, request: RecordedRequest) -> tuple[int, Any]:
        body = request.body or {}
        team_id, member = body.get("team_id"), body.get("member")
        if team_id is None:
            return _detail(400, {"error": "No team id passed in"})
        if member is None:
            return _detail(400, {"error": "No member/members passed in"})
        members = member if isinstance(member, list) else [member]
        if any(m.get("role") == "admin" for m in members) and not self.premium:
            return _detail(400, {"error": f"Assigning team admins is a premium feature. {NOT_PREMIUM}"})
        if team_id not in self.teams:
            return _detail(404, {"error": f"Team not found for team_id={team_id}"})
        roster = self.roster(team_id)
        present = [m for m in members if any(
            (m.get("user_id") is not None and r["user_id"] == m.get("user_id"))
            or (m.get("user_email") is not None and r["user_email"] == m.get("user_email")) for r in roster)]
        if not isinstance(member, list) and present:
            return _proxy_error(400, f"User already in team. Member: user_id={member.get('user_id')}, "
                                     f"user_email={member.get('user_email')}. Existing members={roster}",
                                "team_member_already_in_team", "member")
        if isinstance(member, list) and len(present) == len(members):
            return _proxy_error(400, f"All users are already in team. Existing members={roster}",
                                "team_member_already_in_team", "member")
        updated = []
        for m in members:
            user = (self.users.get(m["user_id"]) if m.get("user_id") else self._user_by_email(m["user_email"]))
            user = user or self._new_user(m.get("user_email"), m.get("user_id"))
            if any(r["user_id"] == user["user_id"] for r in roster):
                continue  # the proxy skips members already in the roster
            roster.append({"role": m.get("role", "user"), "user_id": user["user_id"],
                           "user_email": m.get("user_email") or user["user_email"]})
            user["teams"].append(team_id)
            updated.append(copy.deepcopy(user))
        return 200, {**self.teams[team_id], "updated_users": updated, "updated_team_memberships": []}

    def _member_update(self, request: RecordedRequest) -> tuple[int, Any]:
        body = request.body or {}
        team_id = body.get("team_id")
        if body.get("role") == "admin" and not self.premium:
            return _detail(400, f"Assigning team admins is a premium feature. {NOT_PREMIUM}")
        if team_id not in self.teams:
            return _detail(400, {"error": f"Team id={team_id} does not exist in db"})
        roster = self.roster(team_id)
        user_id = body.get("user_id") or next(
            (r["user_id"] for r in roster if r["user_email"] == body.get("user_email")), None)
        if user_id is None:
            return _detail(400, {"error": f"User id doesn't exist in team table. Data={body}"})
        member = next((r for r in roster if r["user_id"] == user_id), None)
        if member is None:
            return _detail(404, {"error": f"User {user_id} is not a member of team {team_id}"})
        if body.get("role"):
            member["role"] = body["role"]
        return 200, {"team_id": team_id, "user_id": user_id, "user_email": member["user_email"]}

    def _member_delete(self, request: RecordedRequest) -> tuple[int, Any]:
        body = request.body or {}
        team_id, user_id, email = body.get("team_id"), body.get("user_id"), body.get("user_email")
        if team_id not in self.teams:
            return _detail(400, {"error": f"Team id={team_id} does not exist in db"})
        roster = self.roster(team_id)
        removed = [r for r in roster if (user_id is not None and r["user_id"] == user_id)
                   or (email is not None and r["user_email"] == email)]
        if not removed:
            return _detail(400, {"error": "User not found in team"})
        self.teams[team_id]["members_with_roles"] = [r for r in roster if r not in removed]
        removed_ids = {r["user_id"] for r in removed}
        for uid in removed_ids:
            if uid in self.users and team_id in self.users[uid]["teams"]:
                self.users[uid]["teams"].remove(team_id)
        for token in [t for t, row in self.keys.items() if row["user_id"] in removed_ids and row["team_id"] == team_id]:
            self._archive(token)
        return 200, self.teams[team_id]

    # -- keys -------------------------------------------------------------------------------------
    def _archive(self, token: str) -> None:
        self.deleted_keys[token] = {**self.keys.pop(token), "deleted_at": _now().isoformat()}

    @staticmethod
    def _status(row: dict[str, Any]) -> str:
        if row.get("blocked"):
            return "revoked"
        expires = row.get("expires")
        return "expired" if expires is not None and expires < _now().isoformat() else "active"

    def _key_generate(self, request: RecordedRequest) -> tuple[int, Any]:
        body = copy.deepcopy(request.body or {})
        alias, key = body.get("key_alias"), body.get("key")
        if alias is not None and UNSAFE_ALIAS.search(alias):
            return _proxy_error(400, "Invalid key_alias", "bad_request_error", "key_alias")
        if alias is not None and any(row.get("key_alias") == alias for row in self.keys.values()):
            return _proxy_error(400, f"Key with alias '{alias}' already exists. Unique key aliases across all keys "
                                     "are required.", "bad_request_error", "key_alias")
        if key is not None and not key.startswith("sk-"):
            masked = f"{key[:4]}****{key[-4:]}" if len(key) > 8 else "****"
            return _proxy_error(400, {"error": f"Invalid key format. LiteLLM Virtual Key must start with 'sk-'. "
                                               f"Received: {masked}"}, "internal_server_error")
        if key is not None and len(key) < MINIMUM_CUSTOM_KEY_LENGTH:
            return _proxy_error(400, {"error": "Invalid key format. LiteLLM Virtual Key must be at least "
                                               f"{MINIMUM_CUSTOM_KEY_LENGTH} characters long."}, "internal_server_error")
        if body.get("max_budget") is not None and body["max_budget"] < 0:
            return _proxy_error(400, {"error": f"max_budget must be a non-negative finite number. Received: "
                                               f"{body['max_budget']}"}, "internal_server_error")
        refused = self._key_policy(body)
        if refused:
            return refused
        token = key or "sk-" + secrets.token_urlsafe(16)
        hashed = hash_token(token)
        duration = body.get("duration")
        expires = None
        if duration is not None:
            count, unit = DURATION.match(duration).groups()
            expires = (_now() + timedelta(seconds=int(count) * DURATION_SECONDS[unit])).isoformat()
        if hashed not in self.keys:  # an upsert that keeps an existing row as it is
            row = {name: body.get(name) for name in KEY_FIELDS}
            row.update(token=hashed, models=body.get("models") or [], metadata=body.get("metadata") or {},
                       expires=expires, spend=0.0, blocked=None, created_at=_now().isoformat())
            self.keys[hashed] = row
        return 200, {**{name: body.get(name) for name in KEY_FIELDS}, "key": token, "token": hashed,
                     "token_id": hashed, "expires": expires}

    @staticmethod
    def _key_policy(body: dict[str, Any]) -> tuple[int, Any] | None:
        """The stack's general_settings.custom_key_policy (team_plane/litellm_guard.py key_policy): 403."""
        if "logging" in (body.get("metadata") or {}):
            return _proxy_error(403, "llm-gateway: a key's metadata.logging is refused", "auth_error", "None")
        return None

    def _key_info(self, request: RecordedRequest) -> tuple[int, Any]:
        key = request.query.get("key", [None])[0]
        hashed = hash_token(key or "")
        row = self.keys.get(hashed)
        status = self._status(row) if row else "deleted"
        row = row or self.deleted_keys.get(hashed)
        if row is None:
            return _proxy_error(404, "Key not found in database", "not_found_error", "key")
        return 200, {"key": key, "info": {**{k: v for k, v in row.items() if k != "token"}, "status": status}}

    def _key_update(self, request: RecordedRequest) -> tuple[int, Any]:
        body = copy.deepcopy(request.body or {})
        hashed = hash_token(body.pop("key", None) or "")
        if hashed not in self.keys:
            return _proxy_error(404, "Key not found.", "not_found_error", "key")
        refused = self._key_policy(body)
        if refused:
            return refused
        self.keys[hashed].update({name: value for name, value in body.items() if name in KEY_FIELDS})
        return 200, {**self.keys[hashed], "key": hashed}

    def _key_delete(self, request: RecordedRequest) -> tuple[int, Any]:
        keys = (request.body or {}).get("keys") or []
        found = [hash_token(key) for key in keys if hash_token(key) in self.keys]
        if not found:
            return _proxy_error(404, {"error": "No keys found"}, "internal_server_error")
        for token in found:
            self._archive(token)
        return 200, {"deleted_keys": keys}

    def _key_list(self, request: RecordedRequest) -> tuple[int, Any]:
        query = {name: values[0] for name, values in request.query.items()}
        page, size = int(query.get("page", 1)), int(query.get("size", 10))
        if not 1 <= size <= 100 or page < 1:
            return 422, {"detail": [{"type": "less_than_equal", "loc": ["query", "size"], "msg": "invalid page or size"}]}
        rows = sorted((row for row in self.keys.values() if query.get("team_id") in (None, row["team_id"])),
                      key=lambda row: (row["created_at"], row["token"]), reverse=True)
        chunk = rows[(page - 1) * size: page * size]
        full = query.get("return_full_object") == "true"
        return 200, {"keys": [copy.deepcopy(row) if full else row["token"] for row in chunk], "total_count": len(rows),
                     "current_page": page, "total_pages": -(-len(rows) // size)}

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


def running_fake_admin(master_key: str, premium: bool = False) -> AbstractContextManager[FakeLiteLLMAdmin]:
    """Serve a fake admin API on a free 127.0.0.1 port until the block ends; `premium`: a licensed proxy."""
    return serving(FakeLiteLLMAdmin(master_key, premium=premium), _Handler)
