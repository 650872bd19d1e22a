"""Who may sign in to Langfuse, and Langfuse's enterprise licence: stack config in, container env out.

What Langfuse does (langfuse/langfuse web/src/server/auth.ts, web/src/features/auth/lib/
createProjectMembershipsOnSignup.ts, web/src/features/organizations/server/canCreateOrganizations.ts,
web/src/features/entitlements/server/getPlan.ts):

- An invitation is accepted when an account with the invited address is created: email/password
  sign-up and an identity provider's first sign-in both create the account, and both are refused
  while `AUTH_DISABLE_SIGNUP=true`. So sign-up stays on; it gives a new account nothing but what
  its invitations grant (this program sets no LANGFUSE_DEFAULT_ORG_ID / _PROJECT_ID).
- A signed-up account without an invitation sees no organization and no project. Without a
  licence it may create an organization of its own (empty, its own); `LANGFUSE_ALLOWED_ORGANIZATION_CREATORS`
  limits that only with an enterprise licence, where it is set to the admin.
- Identity providers are configured by `AUTH_<PROVIDER>_*`; only Google can be narrowed by Langfuse
  itself (`AUTH_GOOGLE_ALLOWED_DOMAINS`, the `hd` claim). The others admit whoever the company's own
  tenant/issuer admits; public providers (GitHub, GitLab.com, WordPress) are not offered.
- The organization and project APIs need the `admin-api` entitlement: plan `self-hosted:enterprise`,
  i.e. `LANGFUSE_EE_LICENSE_KEY` starting with `langfuse_ee_` (`langfuse_pro_` does not carry it).

Parsers take the loader's problem collector (`problems.add(path, message, value?)`) and return None
after reporting; they never put a secret value in a message.
"""

from __future__ import annotations

import re
from typing import Any

from config import secret_refs
from config.secret_refs import SecretRef
from config.settings import LangfuseSso, SecretText

LICENSE_PREFIX = "langfuse_ee_"
# provider -> (env prefix, the config key of its required endpoint field, that field's env suffix)
SSO_PROVIDERS: dict[str, tuple[str, str | None, str | None]] = {
    "okta": ("OKTA", "issuer", "ISSUER"),
    "azure-ad": ("AZURE_AD", "tenantId", "TENANT_ID"),
    "google": ("GOOGLE", None, None),
    "auth0": ("AUTH0", "issuer", "ISSUER"),
    "keycloak": ("KEYCLOAK", "issuer", "ISSUER"),
    "cognito": ("COGNITO", "issuer", "ISSUER"),
    "authentik": ("AUTHENTIK", "issuer", "ISSUER"),
    "onelogin": ("ONELOGIN", "issuer", "ISSUER"),
    "jumpcloud": ("JUMPCLOUD", "issuer", "ISSUER"),
    "github-enterprise": ("GITHUB_ENTERPRISE", "baseUrl", "BASE_URL"),
    "custom": ("CUSTOM", "issuer", "ISSUER"),
}
SSO_KEYS = ("provider", "clientId", "issuer", "tenantId", "baseUrl", "name", "allowedDomains")
DOMAIN = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
HTTPS_URL = re.compile(r"^https://[^\s/]+(/\S*)?$")
TENANT_ID = re.compile(r"^[A-Za-z0-9.-]{1,253}$")


def parse_sso(raw: Any, client_secret: Any, secret_is_secret: bool, admin_email: str | None,
              problems: Any) -> LangfuseSso | None:
    """`langfuseSso` (plain object) joined with `langfuseSsoClientSecret` (secret config)."""
    if raw is None:
        if client_secret is not None:
            problems.add("langfuseSsoClientSecret", "needs langfuseSso")
        return None
    if not isinstance(raw, dict):
        problems.add("langfuseSso", "must be an object {provider, clientId, issuer | tenantId | baseUrl, ...}", raw)
        return None
    count = len(problems.items)
    for key in raw:
        if key not in SSO_KEYS:
            problems.add(f"langfuseSso.{key}", f"is not a known key (known: {', '.join(SSO_KEYS)})")
    provider = raw.get("provider")
    if provider not in SSO_PROVIDERS:
        problems.add("langfuseSso.provider", f"must be one of: {', '.join(SSO_PROVIDERS)}", provider)
        return None
    _, field, _ = SSO_PROVIDERS[provider]
    for key in ("clientId", *((field,) if field else ()), *(("name",) if provider == "custom" else ())):
        if not isinstance(raw.get(key), str) or not raw[key]:
            problems.add(f"langfuseSso.{key}", f"is required for provider {provider}")
    for key in ("issuer", "tenantId", "baseUrl", "name"):
        if key in raw and key != field and not (key == "name" and provider == "custom"):
            problems.add(f"langfuseSso.{key}", f"does not apply to provider {provider}")
    for key in ("issuer", "baseUrl"):
        if isinstance(raw.get(key), str) and raw[key] and not HTTPS_URL.match(raw[key]):
            problems.add(f"langfuseSso.{key}", "must be an https:// URL", raw[key])
    if isinstance(raw.get("tenantId"), str) and raw["tenantId"] and not TENANT_ID.match(raw["tenantId"]):
        problems.add("langfuseSso.tenantId", "must be the directory (tenant) id", raw["tenantId"])
    domains = raw.get("allowedDomains", [])
    if provider == "google":
        if not isinstance(domains, list) or not domains or not all(isinstance(d, str) and DOMAIN.match(d) for d in domains):
            problems.add("langfuseSso.allowedDomains", "must list the company's Google Workspace domains "
                         "(without it any Google account could sign up)", domains)
        elif admin_email and admin_email.rsplit("@", 1)[-1].lower() not in domains:
            problems.add("langfuse.adminEmail", "must be in langfuseSso.allowedDomains (with SSO the admin "
                         "signs in through the identity provider)", admin_email)
    elif "allowedDomains" in raw:
        problems.add("langfuseSso.allowedDomains", "applies to provider google only (the others admit whoever "
                     "the company's own tenant admits)")
    if client_secret is None:
        problems.add("langfuseSsoClientSecret", "is required with langfuseSso "
                     "(pulumi config set --secret langfuseSsoClientSecret ...)")
    elif not secret_is_secret:
        problems.add("langfuseSsoClientSecret", "must be set with `pulumi config set --secret`, never in plain text")
    if len(problems.items) > count:
        return None
    return LangfuseSso(
        provider=provider, client_id=raw["clientId"], client_secret=SecretText(str(client_secret)),
        issuer=raw.get("issuer"), tenant_id=raw.get("tenantId"), base_url=raw.get("baseUrl"),
        name=raw.get("name"), allowed_domains=tuple(d.lower() for d in domains),
    )


def parse_license(raw: Any, is_secret: bool, problems: Any) -> SecretText | None:
    """`langfuseEeLicenseKey`: optional, Langfuse's enterprise features (who may create organizations,
    per-project roles); injected into web and worker by reference."""
    path = "langfuseEeLicenseKey"
    if raw is None:
        return None
    if not is_secret:
        problems.add(path, "must be set with `pulumi config set --secret`, never in plain text")
        return None
    if not isinstance(raw, str) or not raw.startswith(LICENSE_PREFIX):
        problems.add(path, f"must start with {LICENSE_PREFIX} (an enterprise licence; others lack the admin API)")
        return None
    return SecretText(raw)


# The keys of the `langfuse-external` secret: values the operator supplies, never generated.
SSO_CLIENT_SECRET_KEY = "ssoClientSecret"
LICENSE_KEY = "eeLicenseKey"


def external_secret_values(sso: LangfuseSso | None, license_key: SecretText | None) -> dict[str, SecretText]:
    """What the `langfuse-external` secret holds; empty: no such secret."""
    values = {}
    if sso:
        values[SSO_CLIENT_SECRET_KEY] = sso.client_secret
    if license_key:
        values[LICENSE_KEY] = license_key
    return values


def license_secrets(license_key: SecretText | None) -> dict[str, SecretRef]:
    """Web and worker both read the licence (entitlements are checked in both)."""
    return {"LANGFUSE_EE_LICENSE_KEY": SecretRef(secret_refs.LANGFUSE_EXTERNAL, LICENSE_KEY)} if license_key else {}


def sign_in_environment(sso: LangfuseSso | None, disable_signup: bool, admin_email: str,
                        licensed: bool) -> tuple[dict[str, str], dict[str, SecretRef]]:
    """Langfuse web's sign-in settings: plain environment and secret references."""
    environment = {"AUTH_DISABLE_SIGNUP": str(disable_signup).lower()}
    secrets: dict[str, SecretRef] = {}
    if licensed:
        environment["LANGFUSE_ALLOWED_ORGANIZATION_CREATORS"] = admin_email
    if sso is None:
        return environment, secrets
    prefix, _, suffix = SSO_PROVIDERS[sso.provider]
    value = {"ISSUER": sso.issuer, "TENANT_ID": sso.tenant_id, "BASE_URL": sso.base_url}.get(suffix)
    environment |= {
        f"AUTH_{prefix}_CLIENT_ID": sso.client_id,
        **({f"AUTH_{prefix}_{suffix}": value} if suffix else {}),
        **({"AUTH_CUSTOM_NAME": sso.name} if sso.provider == "custom" else {}),
        **({"AUTH_GOOGLE_ALLOWED_DOMAINS": ",".join(sso.allowed_domains)} if sso.provider == "google" else {}),
        # The admin account is created with a password by the headless init; linking lets its owner
        # reach it through the company's provider (NextAuth refuses an unlinked existing address).
        f"AUTH_{prefix}_ALLOW_ACCOUNT_LINKING": "true",
        # Only the provider: no password accounts, so sign-up is the company's directory.
        "AUTH_DISABLE_USERNAME_PASSWORD": "true",
    }
    secrets[f"AUTH_{prefix}_CLIENT_SECRET"] = SecretRef(secret_refs.LANGFUSE_EXTERNAL, SSO_CLIENT_SECRET_KEY)
    return environment, secrets
