"""Who gets into Langfuse (sign-up, SSO) and its enterprise licence: settings in, web/worker env out."""

from __future__ import annotations

import pytest

from config.loader import SettingsError
from services.secret_refs import SecretRef
from services.specs import langfuse_web, langfuse_worker
from tests.support.settings import make_settings
from tests.support.hosts import STAGING_ENDPOINTS as ENDPOINTS

SSO_SECRET = {"langfuseSsoClientSecret": "idp-client-secret-value"}
LICENSE = "langfuse_ee_0123456789abcdef"
ORG_KEYS = {"langfuseOrganizationKeys": {"publicKey": "pk-lf-org", "secretKey": "sk-lf-org"}}
EXTERNAL = "langfuse-external"


def problems(**kwargs) -> str:
    with pytest.raises(SettingsError) as error:
        make_settings(**kwargs)
    return str(error.value)


@pytest.mark.parametrize("stack", ["stg", "prod"])
def test_invited_people_can_create_their_account_by_default(stack):
    # Langfuse turns an invitation into a membership when the invited address creates its account;
    # AUTH_DISABLE_SIGNUP=true refuses that account (web/src/server/auth.ts createUser,
    # signupApiHandler.ts), so nobody but the first admin could ever sign in.
    environment = langfuse_web(make_settings(stack=stack), ENDPOINTS).environment
    assert environment["AUTH_DISABLE_SIGNUP"] == "false"
    # ...and a new account gets nothing but its invitations: no default organization or project.
    assert not [name for name in environment if name.startswith(("LANGFUSE_DEFAULT_ORG", "LANGFUSE_DEFAULT_PROJECT"))]
    assert "LANGFUSE_ALLOWED_ORGANIZATION_CREATORS" not in environment  # an enterprise entitlement: no effect without


@pytest.mark.parametrize("sso, expected", [
    ({"provider": "okta", "clientId": "0oa1", "issuer": "https://example.okta.com"},
     {"AUTH_OKTA_CLIENT_ID": "0oa1", "AUTH_OKTA_ISSUER": "https://example.okta.com"}),
    ({"provider": "azure-ad", "clientId": "app-id", "tenantId": "0000-tenant"},
     {"AUTH_AZURE_AD_CLIENT_ID": "app-id", "AUTH_AZURE_AD_TENANT_ID": "0000-tenant"}),
    ({"provider": "google", "clientId": "123.apps.googleusercontent.com", "allowedDomains": ["example.com"]},
     {"AUTH_GOOGLE_CLIENT_ID": "123.apps.googleusercontent.com", "AUTH_GOOGLE_ALLOWED_DOMAINS": "example.com"}),
    ({"provider": "custom", "clientId": "c", "issuer": "https://idp.example.com/realms/x", "name": "Company SSO"},
     {"AUTH_CUSTOM_CLIENT_ID": "c", "AUTH_CUSTOM_ISSUER": "https://idp.example.com/realms/x", "AUTH_CUSTOM_NAME": "Company SSO"}),
    ({"provider": "github-enterprise", "clientId": "Iv1", "baseUrl": "https://github.example.com"},
     {"AUTH_GITHUB_ENTERPRISE_CLIENT_ID": "Iv1", "AUTH_GITHUB_ENTERPRISE_BASE_URL": "https://github.example.com"}),
])
def test_sso_through_the_company_identity_provider(sso, expected):
    settings = make_settings(langfuse={"adminEmail": "admin@example.com"}, langfuseSso=sso, secrets=SSO_SECRET)
    web = langfuse_web(settings, ENDPOINTS)
    prefix = next(iter(expected)).rsplit("_CLIENT_ID", 1)[0]
    assert expected.items() <= web.environment.items()
    assert web.environment[f"{prefix}_ALLOW_ACCOUNT_LINKING"] == "true"  # the admin reaches the init account
    assert web.environment["AUTH_DISABLE_USERNAME_PASSWORD"] == "true"  # sign-up is the company's directory
    assert web.environment["AUTH_DISABLE_SIGNUP"] == "false"  # the provider's first sign-in creates the account
    assert web.secrets[f"{prefix}_CLIENT_SECRET"] == SecretRef(EXTERNAL, "ssoClientSecret")
    assert "idp-client-secret-value" not in str(web.environment) and "idp-client-secret-value" not in repr(settings)
    assert not [name for name in langfuse_worker(settings, ENDPOINTS).environment if name.startswith("AUTH_")]


@pytest.mark.parametrize("kwargs, expected", [
    ({"langfuseSso": {"provider": "github", "clientId": "x"}}, "langfuseSso.provider 'github' must be one of: okta"),
    ({"langfuseSso": {"provider": "okta", "clientId": "x"}}, "langfuseSso.issuer is required for provider okta"),
    ({"langfuseSso": {"provider": "okta", "clientId": "x", "issuer": "http://plain.example.com"}}, "must be an https:// URL"),
    ({"langfuseSso": {"provider": "okta", "clientId": "x", "issuer": "https://o.example.com", "tenantId": "t"}},
     "langfuseSso.tenantId does not apply to provider okta"),
    ({"langfuseSso": {"provider": "okta", "clientId": "x", "issuer": "https://o.example.com", "allowedDomains": ["example.com"]}},
     "langfuseSso.allowedDomains applies to provider google only"),
    ({"langfuseSso": {"provider": "google", "clientId": "x"}}, "langfuseSso.allowedDomains [] must list the company's"),
    ({"langfuseSso": {"provider": "google", "clientId": "x", "allowedDomains": ["corp.example"]}},
     "langfuse.adminEmail 'admin@example.com' must be in langfuseSso.allowedDomains"),
    ({"langfuseSso": {"provider": "okta", "clientId": "x", "issuer": "https://o.example.com", "scope": "openid"}},
     "langfuseSso.scope is not a known key"),
])
def test_sso_settings_are_refused_with_their_key_path(kwargs, expected):
    assert expected in problems(secrets=SSO_SECRET, **kwargs)


def test_the_sso_client_secret_is_secret_config_and_needs_sso():
    okta = {"provider": "okta", "clientId": "x", "issuer": "https://o.example.com"}
    assert "langfuseSsoClientSecret is required with langfuseSso" in problems(langfuseSso=okta)
    plain = problems(langfuseSso=okta, langfuseSsoClientSecret="in-the-stack-file")
    assert "langfuseSsoClientSecret must be set with `pulumi config set --secret`" in plain
    assert "in-the-stack-file" not in plain
    assert "langfuseSsoClientSecret needs langfuseSso" in problems(secrets=SSO_SECRET)


def test_the_licence_is_an_enterprise_licence_in_secret_config():
    # An enterprise licence (plan self-hosted:enterprise) starts langfuse_ee_ (getPlan.ts).
    assert "langfuseEeLicenseKey must start with langfuse_ee_" in problems(secrets={"langfuseEeLicenseKey": "langfuse_pro_0123"})
    plain = problems(langfuseEeLicenseKey=LICENSE)
    assert "langfuseEeLicenseKey must be set with `pulumi config set --secret`" in plain and LICENSE not in plain


def test_an_organization_key_is_retired_with_what_replaced_it():
    # Projects and keys are the team plane's in every edition: the key would be used by nothing.
    assert ("langfuseOrganizationKeys is no longer used: the team plane writes every team's Langfuse project"
            in problems(secrets=ORG_KEYS))


def test_the_licence_reaches_web_and_worker_by_reference_and_limits_who_creates_organizations():
    settings = make_settings(secrets={"langfuseEeLicenseKey": LICENSE})
    web, worker = langfuse_web(settings, ENDPOINTS), langfuse_worker(settings, ENDPOINTS)
    for spec in (web, worker):
        assert spec.secrets["LANGFUSE_EE_LICENSE_KEY"] == SecretRef(EXTERNAL, "eeLicenseKey")
        assert LICENSE not in str(spec.environment)
    assert web.environment["LANGFUSE_ALLOWED_ORGANIZATION_CREATORS"] == "admin@example.com"
