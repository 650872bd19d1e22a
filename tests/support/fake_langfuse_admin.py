"""A loopback stand-in for Langfuse's project and API key routes, for tests of code that manages
projects with an organization-scoped key.

It mirrors langfuse/langfuse (web/src/pages/api/public/projects/**, .../organizations/projects,
web/src/ee/features/admin-api/server/**, packages/shared/src/server/auth/apiKeys.ts) where callers
can tell the difference:

- Basic auth `publicKey:secretKey`; an unknown public key or a wrong secret is a 401
  {message: "... Confirm that you've configured the correct host."}. A key is either PROJECT- or
  ORGANIZATION-scoped.
- GET /api/public/projects wants a project key: 200 {data: [its own project]} (undeleted);
  an organization key gets 403 "Invalid API key. Are you using an organization key?".
- Every other route wants an organization key (403 "... Organization-scoped API key required ...")
  and the `admin-api` entitlement of its organization's plan (403 {error: "This feature is not
  available on your current plan."}): only `self-hosted:enterprise` here (a licensed instance).
- GET /api/public/organizations/projects: {projects: [{id, name, metadata, createdAt, updatedAt}]},
  undeleted projects of the key's organization.
- POST /api/public/projects {name, retention?, metadata?}: name 3-60 characters (400), retention 0
  or >= 3 (400), a name taken by an undeleted project of the org: 409; 201 {id, name, metadata}.
- PUT /api/public/projects/{id} {name, ...}: 404 for another org's or a deleted project; no
  duplicate-name check (as upstream); 200 project.
- DELETE /api/public/projects/{id}: deletes the project's keys, marks it deleted; 202.
- GET/POST /api/public/projects/{id}/apiKeys: 404 for another org's project (deleted ones still
  answer, as upstream); GET {apiKeys: [{id, createdAt, expiresAt, lastUsedAt, note, publicKey,
  displaySecretKey}]}; POST {note?, publicKey?, secretKey?}: both or neither (400), prefixes
  pk-lf-/sk-lf- (400), a public or secret key already registered anywhere: 409; 201 {id, createdAt,
  note, publicKey, displaySecretKey, secretKey}.
  With `honours_predefined_keys = False` it behaves like servers whose handler read only `note`:
  the given keys are ignored and random ones generated.
- DELETE /api/public/projects/{id}/apiKeys/{keyId}: 404 for an unknown project or key; 200 {success: true}.

State lives in memory; every request is recorded so tests can inspect what was sent.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import threading
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, UTC
from typing import Any
from urllib.parse import unquote

from tests.support import loopback
from tests.support.loopback import ALB_UNAVAILABLE, LoopbackHandler, serving

SALT = "fake-salt"
ADMIN_API_PLANS = frozenset({"self-hosted:enterprise"})
NEXT_NOT_FOUND = "<!DOCTYPE html><html><body><h1>404</h1><h2>This page could not be found.</h2></body></html>"
HOST_HINT = ". Confirm that you've configured the correct host."
ORG_KEY_REQUIRED = "Invalid API key. Organization-scoped API key required for this operation."
NOT_ON_PLAN = "This feature is not available on your current plan."
PROJECT_NOT_FOUND = "Project not found or you don't have access to it"


class RecordedRequest(loopback.RecordedRequest):
    @property
    def public_key(self) -> str | None:
        """The public key of a Basic authorization, for assertions on who called."""
        credentials = _basic_credentials(self.authorization)
        return credentials[0] if credentials else None


@dataclass
class Organization:
    id: str
    name: str
    plan: str


@dataclass
class Project:
    id: str
    name: str
    org_id: str
    metadata: Any = None
    retention_days: int | None = None
    created_at: str = ""
    updated_at: str = ""
    deleted_at: str | None = None

    def public(self) -> dict[str, Any]:
        """As POST/PUT /api/public/projects and GET /api/public/projects answer it."""
        result = {"id": self.id, "name": self.name, "metadata": self.metadata or {}}
        if self.retention_days:
            result["retentionDays"] = self.retention_days
        return result


@dataclass
class ApiKey:
    id: str
    public_key: str
    fast_hashed_secret_key: str
    display_secret_key: str
    scope: str  # PROJECT | ORGANIZATION
    project_id: str | None = None
    org_id: str | None = None
    note: str | None = None
    created_at: str = ""
    last_used_at: str | None = None
    expires_at: str | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id, "createdAt": self.created_at, "expiresAt": self.expires_at,
            "lastUsedAt": self.last_used_at, "note": self.note, "publicKey": self.public_key,
            "displaySecretKey": self.display_secret_key,
        }


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _id() -> str:
    return "c" + uuid.uuid4().hex[:24]  # Langfuse ids are cuids


def create_sha_hash(secret_key: str, salt: str = SALT) -> str:
    """Langfuse's createShaHash: sha256(secret + sha256hex(salt))."""
    return hashlib.sha256(secret_key.encode() + hashlib.sha256(salt.encode()).hexdigest().encode()).hexdigest()


def display_secret_key(secret_key: str) -> str:
    return secret_key[:6] + "..." + secret_key[-4:]


def new_key_pair() -> tuple[str, str]:
    """Langfuse's generateKeySet."""
    return f"pk-lf-{uuid.uuid4()}", f"sk-lf-{uuid.uuid4()}"


def basic_authorization(public_key: str, secret_key: str) -> str:
    return "Basic " + base64.b64encode(f"{public_key}:{secret_key}".encode()).decode()


def _basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    if not authorization or not authorization.startswith("Basic "):
        return None
    try:
        username, _, password = base64.b64decode(authorization.split(" ", 1)[1]).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (username, password) if username and password else None


@dataclass
class FakeLangfuseAdmin:
    url: str = ""
    organizations: dict[str, Organization] = field(default_factory=dict)
    projects: dict[str, Project] = field(default_factory=dict)
    api_keys: dict[str, ApiKey] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)
    unavailable_responses: int = 0  # the next N requests get a load balancer's 503
    honours_predefined_keys: bool = True  # False: an older server whose handler read only `note`
    forget_created_keys: bool = False  # answer POST .../apiKeys with 201 but store nothing
    redirect_to: str | None = None  # answer every request with a 301 there (an http -> https listener)
    # (status, payload) answers for the next requests, before any routing: e.g. a 500, or a
    # Next.js 404 page for a route this Langfuse version lacks.
    scripted_responses: list[tuple[int, Any]] = field(default_factory=list)
    # Runs before each request is routed: a test's way to change state behind the client's back.
    on_request: Callable[[RecordedRequest], None] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- state, for tests -------------------------------------------------------------------------
    def add_organization(self, name: str = "llm-gateway", plan: str = "self-hosted:enterprise") -> Organization:
        org = Organization(_id(), name, plan)
        self.organizations[org.id] = org
        return org

    def add_project(self, org: Organization, name: str, **fields: Any) -> Project:
        """A project made elsewhere (the UI, LANGFUSE_INIT_*)."""
        project = Project(_id(), name, org.id, created_at=_now(), updated_at=_now(), **fields)
        self.projects[project.id] = project
        return project

    def add_key(self, *, project: Project | None = None, org: Organization | None = None,
                public_key: str | None = None, secret_key: str | None = None,
                note: str | None = None) -> tuple[ApiKey, str, str]:
        """A key of a project, or of an organization (as the Instance Management API makes them);
        returns the key record and its public and secret key."""
        generated_public, generated_secret = new_key_pair()
        public_key, secret_key = public_key or generated_public, secret_key or generated_secret
        key = ApiKey(
            _id(), public_key, create_sha_hash(secret_key), display_secret_key(secret_key),
            scope="PROJECT" if project else "ORGANIZATION", project_id=project.id if project else None,
            org_id=org.id if org else None, note=note, created_at=_now(),
        )
        self.api_keys[key.id] = key
        return key, public_key, secret_key

    def live_projects(self, name: str | None = None) -> list[Project]:
        return [p for p in self.projects.values() if p.deleted_at is None and (name is None or p.name == name)]

    def keys_of(self, project: Project | str) -> list[ApiKey]:
        project_id = project if isinstance(project, str) else project.id
        return [key for key in self.api_keys.values() if key.project_id == project_id and key.scope == "PROJECT"]

    def key_with(self, public_key: str) -> ApiKey | None:
        return next((key for key in self.api_keys.values() if key.public_key == public_key), None)

    def authenticates(self, public_key: str, secret_key: str) -> Project | None:
        """The project a pair authenticates as, the way GET /api/public/projects would see it."""
        status, body, _headers = self.handle(RecordedRequest("GET", "/api/public/projects", {},
                                                             basic_authorization(public_key, secret_key), None),
                                             record=False)
        if status != 200 or not body["data"]:
            return None
        return self.projects[body["data"][0]["id"]]

    def routes_called(self) -> list[tuple[str, str]]:
        return [(request.method, request.path) for request in self.requests]

    # -- routes -----------------------------------------------------------------------------------
    def handle(self, request: RecordedRequest, record: bool = True) -> tuple[int, Any, dict[str, str]]:
        """Status, payload (JSON-able, or text for HTML) and extra headers."""
        with self._lock:
            if record:
                self.requests.append(request)
            if self.redirect_to is not None:
                return 301, "", {"Location": self.redirect_to + request.path}
            if self.unavailable_responses:
                self.unavailable_responses -= 1
                return 503, ALB_UNAVAILABLE, {}
            if self.scripted_responses:
                return (*self.scripted_responses.pop(0), {})
            if self.on_request:
                self.on_request(request)
            return (*self._route(request), {})

    def _route(self, request: RecordedRequest) -> tuple[int, Any]:
        parts = [unquote(part) for part in request.path.strip("/").split("/")]
        if parts[:2] != ["api", "public"]:
            return 404, NEXT_NOT_FOUND
        rest = parts[2:]
        if rest == ["organizations", "projects"]:
            return self._methods(request, {"GET": self._org_projects}, error_key="error")
        if rest == ["projects"]:
            return self._methods(request, {"GET": self._own_projects, "POST": self._create_project})
        if len(rest) == 2 and rest[0] == "projects":
            return self._methods(request, {"PUT": self._update_project, "DELETE": self._delete_project}, rest[1])
        if len(rest) == 3 and rest[0] == "projects" and rest[2] == "apiKeys":
            return self._methods(request, {"GET": self._list_keys, "POST": self._create_key}, rest[1])
        if len(rest) == 4 and rest[0] == "projects" and rest[2] == "apiKeys":
            return self._methods(request, {"DELETE": self._delete_key}, rest[1], rest[3])
        return 404, NEXT_NOT_FOUND

    def _methods(self, request: RecordedRequest, handlers: dict[str, Callable[..., tuple[int, Any]]],
                 *args: str, error_key: str = "message") -> tuple[int, Any]:
        handler = handlers.get(request.method)
        if handler is None:
            return 405, {error_key: "Method not allowed"}
        key = self._authenticate(request.authorization)
        if isinstance(key, str):
            return 401, {error_key: key}
        return handler(request, key, *args)

    def _authenticate(self, authorization: str | None) -> ApiKey | str:
        """The calling key, or the 401 message."""
        if not authorization:
            return "No authorization header"
        credentials = _basic_credentials(authorization)
        if credentials is None:
            return "Invalid authorization header" + HOST_HINT
        public_key, secret_key = credentials
        key = self.key_with(public_key)
        if key is None:
            return "Invalid public key" + HOST_HINT
        if key.fast_hashed_secret_key != create_sha_hash(secret_key):
            return "Invalid credentials" + HOST_HINT
        key.last_used_at = _now()
        return key

    def _org_scope(self, key: ApiKey, error_key: str = "message") -> tuple[int, dict] | None:
        """The 403 of a route that wants an organization key with the admin-api entitlement."""
        if key.scope != "ORGANIZATION" or key.org_id not in self.organizations:
            return 403, {error_key: ORG_KEY_REQUIRED}
        if self.organizations[key.org_id].plan not in ADMIN_API_PLANS:
            return 403, {"error": NOT_ON_PLAN}
        return None

    def _org_project(self, key: ApiKey, project_id: str) -> Project | tuple[int, dict]:
        """A live project of the key's organization, or the answer that refuses the request."""
        refused = self._org_scope(key)
        if refused:
            return refused
        return self._project_of(key, project_id) or (404, {"message": PROJECT_NOT_FOUND})

    def _project_of(self, key: ApiKey, project_id: str, include_deleted: bool = False) -> Project | None:
        project = self.projects.get(project_id)
        if project is None or project.org_id != key.org_id or (project.deleted_at and not include_deleted):
            return None
        return project

    def _own_projects(self, _request: RecordedRequest, key: ApiKey) -> tuple[int, Any]:
        if key.scope != "PROJECT" or not key.project_id:
            return 403, {"message": "Invalid API key. Are you using an organization key?"}
        project = self.projects.get(key.project_id)
        live = [project.public()] if project and not project.deleted_at else []
        return 200, {"data": live}

    def _org_projects(self, _request: RecordedRequest, key: ApiKey) -> tuple[int, Any]:
        refused = self._org_scope(key, error_key="error")
        if refused:
            return refused
        return 200, {"projects": [
            {"id": p.id, "name": p.name, "metadata": p.metadata, "createdAt": p.created_at, "updatedAt": p.updated_at}
            for p in self.live_projects() if p.org_id == key.org_id
        ]}

    @staticmethod
    def _invalid_project_body(body: dict[str, Any]) -> tuple[int, dict] | None:
        name = body.get("name")
        if not isinstance(name, str) or not 3 <= len(name) <= 60 or re.search(r"<[^>]*>", name):
            return 400, {"message": "Invalid project name. Should be between 3 and 60 characters."}
        retention = body.get("retention")
        if retention is not None and (not isinstance(retention, int) or (retention != 0 and retention < 3)):
            return 400, {"message": "Invalid retention value. Must be 0 or at least 3 days."}
        metadata = body.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            return 400, {"message": "Invalid metadata. Should be a valid JSON object."}
        return None

    def _create_project(self, request: RecordedRequest, key: ApiKey) -> tuple[int, Any]:
        refused = self._org_scope(key)
        if refused:
            return refused
        body = dict(request.body or {})
        invalid = self._invalid_project_body(body)
        if invalid:
            return invalid
        if any(p.org_id == key.org_id for p in self.live_projects(body["name"])):
            return 409, {"message": "A project with this name already exists in your organization"}
        project = self.add_project(self.organizations[key.org_id], body["name"], metadata=body.get("metadata"),
                                   retention_days=body.get("retention"))
        return 201, project.public()

    def _update_project(self, request: RecordedRequest, key: ApiKey, project_id: str) -> tuple[int, Any]:
        project = self._org_project(key, project_id)
        if not isinstance(project, Project):
            return project
        body = dict(request.body or {})
        invalid = self._invalid_project_body(body)
        if invalid:
            return invalid
        project.name = body["name"]  # upstream does not check for a namesake here
        if "retention" in body:
            project.retention_days = body["retention"]
        if "metadata" in body:
            project.metadata = body["metadata"]
        project.updated_at = _now()
        return 200, project.public()

    def _delete_project(self, _request: RecordedRequest, key: ApiKey, project_id: str) -> tuple[int, Any]:
        project = self._org_project(key, project_id)
        if not isinstance(project, Project):
            return project
        for api_key in self.keys_of(project):
            del self.api_keys[api_key.id]
        project.deleted_at = _now()
        return 202, {"success": True,
                     "message": "Project deletion has been initiated and is being processed asynchronously"}

    def _list_keys(self, _request: RecordedRequest, key: ApiKey, project_id: str) -> tuple[int, Any]:
        refused = self._org_scope(key)
        if refused:
            return refused
        if self._project_of(key, project_id, include_deleted=True) is None:
            return 404, {"message": PROJECT_NOT_FOUND}
        keys = sorted(self.keys_of(project_id), key=lambda api_key: api_key.created_at)
        return 200, {"apiKeys": [api_key.summary() for api_key in keys]}

    def _create_key(self, request: RecordedRequest, key: ApiKey, project_id: str) -> tuple[int, Any]:
        refused = self._org_scope(key)
        if refused:
            return refused
        project = self._project_of(key, project_id, include_deleted=True)
        if project is None:
            return 404, {"message": PROJECT_NOT_FOUND}
        body = dict(request.body or {})
        fields = ("note", "publicKey", "secretKey") if self.honours_predefined_keys else ("note",)
        if any(body.get(name) is not None and not isinstance(body[name], str) for name in fields):
            return 400, {"message": "Invalid request body", "details": {}}
        note = body.get("note")
        public_key, secret_key = (body.get("publicKey"), body.get("secretKey")) if self.honours_predefined_keys \
            else (None, None)
        if public_key or secret_key:
            if not public_key or not secret_key:
                return 400, {"message": "Both publicKey and secretKey must be provided together when specifying "
                                        "predefined keys"}
            if not public_key.startswith("pk-lf-"):
                return 400, {"message": "publicKey must start with 'pk-lf-'"}
            if not secret_key.startswith("sk-lf-"):
                return 400, {"message": "secretKey must start with 'sk-lf-'"}
            taken = {api_key.public_key for api_key in self.api_keys.values()}
            hashes = {api_key.fast_hashed_secret_key for api_key in self.api_keys.values()}
            if public_key in taken or create_sha_hash(secret_key) in hashes:
                return 409, {"message": "API key with the provided publicKey or secretKey already exists"}
        created, public_key, secret_key = self.add_key(project=project, public_key=public_key,
                                                       secret_key=secret_key, note=note)
        if self.forget_created_keys:
            del self.api_keys[created.id]
        return 201, {"id": created.id, "createdAt": created.created_at, "note": created.note,
                     "publicKey": public_key, "displaySecretKey": created.display_secret_key,
                     "secretKey": secret_key}

    def _delete_key(self, _request: RecordedRequest, key: ApiKey, project_id: str, key_id: str) -> tuple[int, Any]:
        refused = self._org_scope(key)
        if refused:
            return refused
        if self._project_of(key, project_id, include_deleted=True) is None:
            return 404, {"message": PROJECT_NOT_FOUND}
        api_key = self.api_keys.get(key_id)
        if api_key is None or api_key.project_id != project_id or api_key.scope != "PROJECT":
            return 404, {"message": "API key not found"}
        del self.api_keys[key_id]
        return 200, {"success": True}


class _Handler(LoopbackHandler):
    def _serve(self) -> None:
        self.reply(*self.fake.handle(self.recorded_request(RecordedRequest)))

    do_GET = do_POST = do_PUT = do_DELETE = _serve


def running_fake_langfuse() -> AbstractContextManager[FakeLangfuseAdmin]:
    """Serve a fake Langfuse on a free 127.0.0.1 port until the block ends."""
    return serving(FakeLangfuseAdmin(), _Handler)
