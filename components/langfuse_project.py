"""One team's Langfuse project and its API key pair as code, through Langfuse's public API and an
organization-scoped API key (the Enterprise path: open-source self-hosting provisions projects
another way).

`LangfuseProject` is a Pulumi dynamic resource over these routes of Langfuse (langfuse/langfuse,
web/src/pages/api/public/** and web/src/ee/features/admin-api/server/**), all with HTTP Basic
auth `publicKey:secretKey`:

- GET  /api/public/organizations/projects           org key: {projects: [{id, name, metadata, ...}]}
- POST /api/public/projects {name, metadata?}         org key: 201 project; 409 when the name is taken
- PUT  /api/public/projects/{id} {name}               org key: 200 project; 404 unknown or deleted
- DELETE /api/public/projects/{id}                    org key: 202 (deletes its keys, data async)
- GET  /api/public/projects/{id}/apiKeys              org key: {apiKeys: [{id, publicKey, displaySecretKey, ...}]}
- POST /api/public/projects/{id}/apiKeys {note, publicKey, secretKey}
                                                      org key: 201 {id, publicKey, secretKey, ...}; 409 taken
- DELETE /api/public/projects/{id}/apiKeys/{keyId}    org key: 200; 404 unknown
- GET  /api/public/projects                           PROJECT key: {data: [its own project]}; an
                                                      org key gets 403

Every org route also needs the `admin-api` entitlement: without an Enterprise license a
self-hosted Langfuse answers 403 "This feature is not available on your current plan."

Create finds the project by name (adopting it) or creates it, registers the team's own key pair
on it (`predefinedKeys`; Langfuse servers before that feature silently generate random keys
instead, which is detected, undone and reported), then verifies: GET /api/public/projects with
the team's key pair must return exactly that project, or the deployment fails with "keys do not
authenticate". Read reports drift (project gone, renamed, key gone, key refused). Update renames,
and rotates: a new public key is registered and verified before the old key is deleted by id.
Delete removes our key and the project; either being gone already is success.

No secret (the four keys, their display forms, the Basic credentials) is ever logged or put in an
error message or a non-secret output.

The provider is pickled by reference, like `components.one_off_task` (see there): keep this
module path and the class names stable while stack state holds these resources.
"""

from __future__ import annotations

import base64
import re
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, UpdateResult

from components.admin_api import LOAD_BALANCER_STATUSES, AdminApiProvider, AdminResponse, JsonApiClient

DEFAULT_RETRY_DELAYS_SECONDS = (1.0, 2.0, 4.0, 8.0)
# 429 is Langfuse's public-API rate limit.
TRANSIENT_STATUSES = LOAD_BALANCER_STATUSES | {429}

PUBLIC_KEY_PREFIX = "pk-lf-"
SECRET_KEY_PREFIX = "sk-lf-"
# Langfuse's projectNameSchema (web/src/features/auth/lib/projectNameSchema.ts): 3 to 60 characters.
PROJECT_NAME_MIN, PROJECT_NAME_MAX = 3, 60
PROJECT_METADATA = {"managedBy": "llm-gateway"}
KEY_NOTE = "llm-gateway: the team key pair LiteLLM traces with (managed by Pulumi)"

CONNECTION_FIELDS = ("langfuse_url", "organization_public_key", "organization_secret_key")
KEY_FIELDS = ("public_key", "secret_key")
INPUT_FIELDS = (*CONNECTION_FIELDS, "project_name", *KEY_FIELDS)
SECRET_FIELDS = ("organization_public_key", "organization_secret_key", *KEY_FIELDS)
COMPUTED_FIELDS = ("project_id", "api_key_id", "key_verified")


@dataclass(frozen=True)
class LangfuseProjectArgs:
    langfuse_url: pulumi.Input[str]  # e.g. https://langfuse.example.com
    organization_public_key: pulumi.Input[str]  # an organization-scoped key (EE); always stored as a secret
    organization_secret_key: pulumi.Input[str]
    project_name: str  # the team name
    public_key: pulumi.Input[str]  # the team's pair from Secrets Manager: pk-lf-...
    secret_key: pulumi.Input[str]  # sk-lf-...


class LangfuseAdminError(Exception):
    """Langfuse could not be reached, refused the organization key, or rejected a request."""


class LangfuseKeyVerificationError(LangfuseAdminError):
    """The team's key pair does not authenticate as its project."""


def display_secret_key(secret_key: str) -> str:
    """Langfuse's displaySecretKey (packages/shared/src/server/auth/apiKeys.ts getDisplaySecretKey)."""
    return secret_key[:6] + "..." + secret_key[-4:]


_SECRET_KEY_PATTERN = re.compile(r"sk-lf-[A-Za-z0-9_-]+")


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` without any of `secrets`, their display forms or Basic credentials, nor any sk-lf- key."""
    values = [value for value in secrets if value]
    replacements = [*values, *(display_secret_key(value) for value in values if len(value) > 10)]
    for value in sorted(set(replacements), key=len, reverse=True):
        text = text.replace(value, "***")
    return _SECRET_KEY_PATTERN.sub("sk-lf-***", text)


def check_project_name(name: str) -> None:
    if not PROJECT_NAME_MIN <= len(name) <= PROJECT_NAME_MAX:
        raise LangfuseAdminError(
            f"Langfuse project name '{name}' must have {PROJECT_NAME_MIN} to {PROJECT_NAME_MAX} characters "
            "(Langfuse refuses others)"
        )


@dataclass(frozen=True)
class ProjectSpec:
    """What we manage: the project's name and the team's key pair."""

    project_name: str
    public_key: str
    secret_key: str

    @classmethod
    def from_props(cls, props: Mapping[str, Any]) -> ProjectSpec:
        spec = cls(props["project_name"], props["public_key"], props["secret_key"])
        check_project_name(spec.project_name)
        # Checked here, without the values: Langfuse's own 400 would come after a project exists.
        for label, value, prefix in (("public key", spec.public_key, PUBLIC_KEY_PREFIX),
                                     ("secret key", spec.secret_key, SECRET_KEY_PREFIX)):
            if not value.startswith(prefix) or len(value) <= len(prefix):
                raise LangfuseAdminError(
                    f"the {label} of Langfuse project '{spec.project_name}' must have the form {prefix}... "
                    "(Langfuse accepts predefined keys only in its own format); check the team's key secret"
                )
        return spec


def changed_fields(olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[str]:
    """Inputs that differ from the stored outputs (an unknown value during preview counts)."""
    return [key for key in INPUT_FIELDS if olds.get(key) != news.get(key)]


def drifted(olds: Mapping[str, Any]) -> bool:
    """The last read found our key missing from the project, or refused."""
    return not olds.get("api_key_id") or olds.get("key_verified") is False


class LangfuseClient:
    """urllib over Langfuse's public API with one key pair: retries transient failures, turns the
    others into clear errors (for the organization key) without any secret in them."""

    def __init__(self, langfuse_url: str, public_key: str, secret_key: str, *, redacted: Iterable[str],
                 timeout_seconds: float, retry_delays: Sequence[float], sleep: Callable[[float], None]):
        self.langfuse_url = langfuse_url.rstrip("/")
        credentials = base64.b64encode(f"{public_key}:{secret_key}".encode()).decode()
        self._redacted = (*redacted, public_key, secret_key, credentials)
        self._http = JsonApiClient(
            self.langfuse_url, {"Authorization": f"Basic {credentials}", "Accept": "application/json"},
            timeout_seconds=timeout_seconds, retry_delays=retry_delays, sleep=sleep, unreachable=self._unreachable,
            transient_statuses=TRANSIENT_STATUSES, follow_redirects=False,
        )

    def redact(self, text: str) -> str:
        return redact(text, self._redacted)

    # -- organization key --------------------------------------------------------------------
    def projects(self) -> list[dict[str, Any]]:
        """The organization's (undeleted) projects."""
        return self._call("GET", "/api/public/organizations/projects").body["projects"]

    def project_by_id(self, project_id: str) -> dict[str, Any] | None:
        return next((project for project in self.projects() if project["id"] == project_id), None)

    def project_by_name(self, name: str) -> dict[str, Any] | None:
        matches = [project for project in self.projects() if project["name"] == name]
        if len(matches) > 1:
            ids = ", ".join(project["id"] for project in matches)
            raise LangfuseAdminError(
                f"Langfuse at {self.langfuse_url} lists {len(matches)} projects named '{name}' ({ids}); "
                "delete or rename all but one, then run `pulumi up` again"
            )
        return matches[0] if matches else None

    def create_project(self, name: str) -> dict[str, Any] | None:
        """The new project; None when the organization already has one with this name."""
        response = self._call("POST", "/api/public/projects", {"name": name, "metadata": PROJECT_METADATA},
                              expected=(409,))
        return None if response.status == 409 else response.body

    def rename_project(self, project_id: str, name: str) -> bool:
        """False when the project is gone."""
        response = self._call("PUT", f"/api/public/projects/{_quote(project_id)}", {"name": name}, not_found_ok=True)
        return response.status != 404

    def delete_project(self, project_id: str) -> None:
        """Deletes the project and every key of it (its data asynchronously); already gone is fine."""
        self._call("DELETE", f"/api/public/projects/{_quote(project_id)}", not_found_ok=True)

    def api_keys(self, project_id: str) -> list[dict[str, Any]] | None:
        """The project's keys (never their secrets); None when the project is gone."""
        response = self._call("GET", f"/api/public/projects/{_quote(project_id)}/apiKeys", not_found_ok=True)
        return None if response.status == 404 else response.body["apiKeys"]

    def create_api_key(self, project_id: str, public_key: str, secret_key: str) -> dict[str, Any] | None:
        """The new key's record (secretKey dropped); None when the public or secret key is taken."""
        response = self._call(
            "POST", f"/api/public/projects/{_quote(project_id)}/apiKeys",
            {"note": KEY_NOTE, "publicKey": public_key, "secretKey": secret_key}, expected=(409,),
        )
        if response.status == 409:
            return None
        return {key: value for key, value in response.body.items() if key != "secretKey"}

    def delete_api_key(self, project_id: str, api_key_id: str) -> None:
        """Already gone (or its project gone) is fine."""
        self._call("DELETE", f"/api/public/projects/{_quote(project_id)}/apiKeys/{_quote(api_key_id)}",
                   not_found_ok=True)

    # -- project key -------------------------------------------------------------------------
    def own_projects(self) -> AdminResponse:
        """GET /api/public/projects as is: with a project key, 200 and exactly its own project."""
        return self._http.send("GET", "/api/public/projects")

    # -- HTTP --------------------------------------------------------------------------------
    def _call(self, method: str, path: str, body: Mapping[str, Any] | None = None,
              expected: Sequence[int] = (), not_found_ok: bool = False) -> AdminResponse:
        response = self._http.send(method, path, body)
        if response.status == 401:
            raise LangfuseAdminError(
                f"Langfuse at {self.langfuse_url} refused the organization API key ({method} {path}: HTTP 401: "
                f"{self._body(response)}): the stack's organization key pair must be an organization-scoped key "
                "of this Langfuse instance (created with its Instance Management API)"
            )
        if response.status == 403:
            raise LangfuseAdminError(self._forbidden(method, path, response))
        if 300 <= response.status < 400:
            raise LangfuseAdminError(
                f"Langfuse at {self.langfuse_url} redirected {method} {path} (HTTP {response.status}) to "
                f"{response.location}: set the Langfuse URL to the address it redirects to (e.g. https://)"
            )
        # A 404 from the route's handler carries JSON; a route this Langfuse lacks is Next.js's HTML page.
        not_found = not_found_ok and response.status == 404 and isinstance(response.body, dict)
        if 200 <= response.status < 300 or response.status in expected or not_found:
            return response
        raise self.http_error(method, path, response)

    def _forbidden(self, method: str, path: str, response: AdminResponse) -> str:
        body = self._body(response)
        prefix = f"Langfuse at {self.langfuse_url} refused {method} {path} with HTTP 403 ({body})"
        if "not available on your current plan" in body:
            return (
                f"{prefix}: the organization key is valid, but this Langfuse has no Enterprise license: the "
                "project API needs the `admin-api` entitlement, and a self-hosted Langfuse answers 403 without "
                "LANGFUSE_EE_LICENSE_KEY. Add the license, or provision team projects the open-source way"
            )
        if "Organization-scoped API key required" in body or "organization key" in body:
            return (
                f"{prefix}: the stack's organization key pair is not an organization-scoped key (a project "
                "key?); create an organization key with Langfuse's Instance Management API"
            )
        return (
            f"{prefix}: the organization API key was refused; it must be an organization-scoped key, and the "
            "project API needs an Enterprise license (Langfuse answers 403 without LANGFUSE_EE_LICENSE_KEY)"
        )

    def _body(self, response: AdminResponse) -> str:
        return response.body_for_error(self.redact)

    def http_error(self, method: str, path: str, response: AdminResponse) -> LangfuseAdminError:
        return LangfuseAdminError(
            f"Langfuse {method} {self.langfuse_url}{path} failed with HTTP {response.status}: {self._body(response)}"
        )

    def _unreachable(self, method: str, path: str, reason: str, attempts: int) -> LangfuseAdminError:
        return LangfuseAdminError(
            f"cannot reach Langfuse at {self.langfuse_url} ({method} {path}: {self.redact(reason)}; "
            f"{attempts} attempts): the machine running `pulumi up` must be able to reach "
            "Langfuse, e.g. its egress IP must be in the stack's allowedCidrs"
        )


def _quote(segment: str) -> str:
    return urllib.parse.quote(segment, safe="")


def ensure_project(org: LangfuseClient, name: str) -> dict[str, Any]:
    """The organization's project with this name, created when there is none."""
    project = org.project_by_name(name)
    if project is not None:
        return project
    created = org.create_project(name)
    if created is not None:
        return created
    project = org.project_by_name(name)  # created meanwhile (e.g. a retried POST): adopt it
    if project is None:
        raise LangfuseAdminError(
            f"Langfuse at {org.langfuse_url} refused to create project '{name}' as a duplicate (HTTP 409) but "
            "lists no project with that name for the organization key; check the organization in Langfuse"
        )
    return project


def ensure_key(org: LangfuseClient, project: Mapping[str, Any], spec: ProjectSpec,
               managed_key_id: str | None = None) -> str:
    """The id of the project's key with the team's public key, registered with the team's pair when
    absent. `managed_key_id`: our key, which may be replaced when the team's secret key changed."""
    project_id, name = project["id"], project["name"]
    existing = _key_with(_keys_of(org, project), spec.public_key)
    if existing is not None:
        if existing.get("displaySecretKey") in (None, display_secret_key(spec.secret_key)):
            return existing["id"]  # the secret itself is checked by verification
        if existing["id"] != managed_key_id:
            raise LangfuseAdminError(
                f"Langfuse project '{name}' ({project_id}) at {org.langfuse_url} already has an API key with the "
                "team's public key, but with a different secret key. Langfuse cannot change the secret of a key: "
                "delete that key in Langfuse (project settings, API keys) or give the team a new key pair, then "
                "run `pulumi up` again"
            )
        # Our own key, and the team's secret changed: a public key can be registered once only.
        org.delete_api_key(project_id, existing["id"])
    created = org.create_api_key(project_id, spec.public_key, spec.secret_key)
    if created is None:
        again = _key_with(_keys_of(org, project), spec.public_key)
        if again is not None:
            return again["id"]  # registered meanwhile (e.g. a retried POST)
        raise LangfuseAdminError(
            f"Langfuse at {org.langfuse_url} refused to register the team's key pair on project '{name}' "
            f"({project_id}): HTTP 409, the public or the secret key is already registered elsewhere in this "
            "instance (keys are unique across projects and organizations). Each team needs its own pair: "
            "find the project holding it, or give the team a new pair"
        )
    if created.get("publicKey") != spec.public_key:
        # A server that only reads `note` ignores predefined keys and generates random ones. Never keep
        # those: LiteLLM sends the team's pair from Secrets Manager, which Langfuse would refuse.
        org.delete_api_key(project_id, created["id"])
        raise LangfuseAdminError(
            f"Langfuse at {org.langfuse_url} ignored the team's predefined key pair on POST "
            f"/api/public/projects/{project_id}/apiKeys and generated random keys instead (deleted again): "
            "this Langfuse version cannot register a given key pair through its API. Upgrade Langfuse to a "
            "version whose API accepts publicKey/secretKey, or provision the team's keys another way"
        )
    return created["id"]


def _keys_of(org: LangfuseClient, project: Mapping[str, Any]) -> list[dict[str, Any]]:
    keys = org.api_keys(project["id"])
    if keys is None:
        raise _gone(org, project["id"], project["name"])
    return keys


def _key_with(keys: Iterable[Mapping[str, Any]], public_key: str) -> Mapping[str, Any] | None:
    return next((key for key in keys if key.get("publicKey") == public_key), None)


def _gone(org: LangfuseClient, project_id: str, name: str) -> LangfuseAdminError:
    return LangfuseAdminError(
        f"Langfuse project '{name}' ({project_id}) no longer exists at {org.langfuse_url} (deleted outside "
        "Pulumi, or another Langfuse instance): run `pulumi refresh`, then `pulumi up` recreates it"
    )


def key_pair_problem(team: LangfuseClient, project_id: str) -> str | None:
    """Why the team's key pair does not authenticate as exactly this project; None when it does."""
    response = team.own_projects()
    if response.status == 200 and isinstance(response.body, dict):
        ids = [project.get("id") for project in response.body.get("data") or []]
        if ids == [project_id]:
            return None
        return f"they authenticate as project(s) {ids}" if ids else "Langfuse lists no project for them"
    if response.status in (401, 403) or 200 <= response.status < 300:
        body = response.body_for_error(team.redact)
        return f"GET /api/public/projects with them answered HTTP {response.status}: {body}"
    raise team.http_error("GET", "/api/public/projects", response)


def verify_key_pair(team: LangfuseClient, project_id: str, name: str) -> None:
    problem = key_pair_problem(team, project_id)
    if problem is not None:
        raise LangfuseKeyVerificationError(
            f"Langfuse project '{name}' ({project_id}) at {team.langfuse_url}: the team's keys do not authenticate "
            f"({problem}). LiteLLM traces this team with the pair in its Secrets Manager secret, so its traces "
            "would be refused; that pair must be registered on this project"
        )


class LangfuseProjectProvider(AdminApiProvider):
    default_retry_delays = DEFAULT_RETRY_DELAYS_SECONDS

    def _clients(self, props: Mapping[str, Any]) -> tuple[LangfuseClient, LangfuseClient]:
        """The organization key's client and the team key's client."""
        options = {"redacted": [props.get(key) or "" for key in SECRET_FIELDS], **self.client_options()}
        return (
            LangfuseClient(props["langfuse_url"], props["organization_public_key"], props["organization_secret_key"],
                           **options),
            LangfuseClient(props["langfuse_url"], props["public_key"], props["secret_key"], **options),
        )

    def create(self, props: dict[str, Any]) -> CreateResult:
        spec = ProjectSpec.from_props(props)
        org, team = self._clients(props)
        project = ensure_project(org, spec.project_name)
        key_id = ensure_key(org, project, spec)
        verify_key_pair(team, project["id"], project["name"])
        return CreateResult(project["id"], _outputs(props, project, key_id, key_verified=True))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        org, team = self._clients(props)
        project = org.project_by_id(id_)
        if project is None:
            return ReadResult(None, {})  # gone: the engine drops it from the state
        key = _key_with(org.api_keys(id_) or [], props["public_key"])
        verified = key_pair_problem(team, id_) is None
        return ReadResult(id_, _outputs(props, project, key["id"] if key else None, key_verified=verified))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # Renames and key rotations are updates: the project (and its traces) stays.
        return DiffResult(changes=bool(changed_fields(olds, news)) or drifted(olds), replaces=[])

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        spec = ProjectSpec.from_props(news)
        org, team = self._clients(news)
        project = org.project_by_id(id_)
        if project is None:
            raise _gone(org, id_, spec.project_name)
        if project["name"] != spec.project_name:
            namesake = org.project_by_name(spec.project_name)
            if namesake is not None:
                raise LangfuseAdminError(
                    f"cannot rename Langfuse project '{project['name']}' ({id_}) to '{spec.project_name}': project "
                    f"{namesake['id']} already has that name at {org.langfuse_url}"
                )
            if not org.rename_project(id_, spec.project_name):
                raise _gone(org, id_, spec.project_name)
            project = {**project, "name": spec.project_name}
        old_key_id = olds.get("api_key_id")
        key_id = ensure_key(org, project, spec, managed_key_id=old_key_id)
        verify_key_pair(team, id_, project["name"])
        if old_key_id and old_key_id != key_id:
            org.delete_api_key(id_, old_key_id)  # rotated: the old pair stops only once the new one works
        return UpdateResult(_outputs(news, project, key_id, key_verified=True))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        org, _team = self._clients(props)
        if props.get("api_key_id"):
            org.delete_api_key(id_, props["api_key_id"])
        org.delete_project(id_)


def _outputs(props: Mapping[str, Any], project: Mapping[str, Any], api_key_id: str | None,
             key_verified: bool) -> dict[str, Any]:
    # The connection and keys travel in the outputs because read and delete only receive those; the
    # engine keeps them secret there, as their inputs are (plus additional_secret_outputs).
    return {
        **{key: props[key] for key in (*CONNECTION_FIELDS, *KEY_FIELDS)},
        "project_name": project["name"],  # the live name: a rename in the UI shows as drift
        "project_id": project["id"],
        "api_key_id": api_key_id,  # None: the team's key is missing from the project (drift)
        "key_verified": key_verified,  # False: the team's pair no longer authenticates (drift)
    }


class LangfuseProject(Resource):
    """Its id is the Langfuse project id; outputs: the inputs (keys kept secret), project_id,
    api_key_id (the Langfuse id of the team's key) and key_verified."""

    project_id: pulumi.Output[str]
    project_name: pulumi.Output[str]
    api_key_id: pulumi.Output[str]
    key_verified: pulumi.Output[bool]

    def __init__(self, name: str, args: LangfuseProjectArgs, opts: pulumi.ResourceOptions | None = None):
        try:
            check_project_name(args.project_name)  # fail at preview, not halfway through a deployment
        except LangfuseAdminError as error:
            raise ValueError(str(error)) from None
        props = {
            "langfuse_url": args.langfuse_url,
            **{key: pulumi.Output.secret(getattr(args, key)) for key in SECRET_FIELDS},
            "project_name": args.project_name,
            **{key: None for key in COMPUTED_FIELDS},
        }
        secret_outputs = pulumi.ResourceOptions(additional_secret_outputs=list(SECRET_FIELDS))
        super().__init__(LangfuseProjectProvider(), name, props, pulumi.ResourceOptions.merge(opts, secret_outputs))
