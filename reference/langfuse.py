"""What Langfuse v4 reads to sign people in and to know its edition (langfuse/langfuse v4.16.0).

- Each identity provider is configured by `AUTH_<PREFIX>_CLIENT_ID`, `AUTH_<PREFIX>_CLIENT_SECRET`
  and, but for Google, one endpoint variable (web/src/server/auth.ts).
- An enterprise licence key starts with `langfuse_ee_`; only it carries the admin API
  (web/src/features/entitlements/server/getPlan.ts, packages/shared/src/server/ee/licenseCheck).

config/settings.py checks a stack's `langfuseSso` and `langfuseEeLicenseKey` against these;
services/langfuse_access.py turns them into Langfuse web's environment.
"""

from __future__ import annotations

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
