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

What a stack may set is checked by config/settings.py (LangfuseSso, langfuseEeLicenseKey).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reference.langfuse import SSO_PROVIDERS
from services import secret_refs
from services.secret_refs import SecretRef

if TYPE_CHECKING:
    from config.settings import LangfuseSso, SecretText

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
