"""What no caller of the gateway may change about its tracing, loaded by the LiteLLM proxy itself.

The container's start (team_plane/litellm_start.py) writes this module next to the proxy config as
`GUARD_MODULE`; the config names its `key_policy` as `general_settings.custom_key_policy`, so every
proxy process imports it while it loads the config (litellm 1.104.0
litellm/proxy/types_utils/utils.py `get_instance_fn`, which runs the file again on each import).

1. A request refused at authentication exports nothing. LiteLLM logs such a refusal (no key, a bad
   key, a body it rejects) as a failed LLM call from the request body as the caller sent it
   (litellm/proxy/utils.py `ProxyLogging.post_call_failure_hook` -> `_handle_logging_proxy_only_error`
   -> `function_setup(**request_data)`): the caller's `langfuse_host` and keys choose where the trace
   goes (litellm_core_utils/initialize_dynamic_callback_params.py), its `failure_callback` adds
   callbacks, and its `callbacks` are appended to the process-wide callback lists, so one
   unauthenticated request makes the worker export every later call a second time. LiteLLM strips
   those fields from authenticated requests only (litellm/proxy/litellm_pre_call_utils.py
   `_UNTRUSTED_ROOT_CONTROL_FIELDS`), and no setting or callback hook runs before that logging.
   So `ProxyLogging._is_proxy_only_llm_api_error` answers False for authentication errors: the
   caller still gets its refusal, the proxy still logs it and runs its failure hooks, but the body
   never reaches a logging object. Authenticated callers cannot steer either: the proxy refuses a
   body or metadata carrying any Langfuse host or key at authentication
   (litellm/proxy/auth/auth_utils.py `is_request_body_safe`), which is exactly that path.
2. A key carries no tracing of its own. A key's `metadata.logging` wins over its team's and over
   the config's `default_team_settings` (litellm_pre_call_utils.py `_get_dynamic_logging_metadata`),
   so whoever may create or update keys could send a key's traces anywhere. `key_policy` refuses
   any key that would be written with it: LiteLLM calls the policy with the key as it will be
   stored on /key/generate, /key/service-account/generate, /key/update, bulk updates and
   /key/regenerate (key_management_endpoints.py `_enforce_custom_key_policy`) and answers 403 with
   its message.

3. The Langfuse pass-through lends no project's keys. LiteLLM serves `/langfuse/<path>` to any key,
   forwarding it to Langfuse with the key's team's Langfuse pair, or, for a key without a team
   (the master key, a key made by hand), with the proxy's own LANGFUSE_PUBLIC_KEY/SECRET_KEY: the
   platform project's pair (litellm/proxy/vertex_ai_endpoints/langfuse_endpoints.py
   `_get_langfuse_proxy_credentials`), so such a key could read every teamless call's prompts and
   write into that project. `refuse_platform_keys_to_pass_through` answers 403 instead: a team's
   key still reaches its own project, nothing reaches the platform's.

If a patched function changed its signature (a LiteLLM upgrade), importing this module fails, and
with it the proxy's start: better no proxy than one whose refusals trace wherever a caller says.
"""

import inspect

from litellm.proxy._types import ProxyErrorTypes
from litellm.proxy.utils import ProxyLogging
from litellm.proxy.vertex_ai_endpoints import langfuse_endpoints

PATCHED_MARK = "llm_gateway_skips_authentication_failures"
PATCHED_SIGNATURE = ("self", "original_exception", "error_type", "route")
PASS_THROUGH_SIGNATURE = ("dynamic_host_supplied", "dynamic_langfuse_public_key", "dynamic_langfuse_secret_key")
KEY_TRACING_FIELD = "logging"


def _check_signature(function, expected):
    parameters = tuple(inspect.signature(function).parameters)
    if parameters != expected:
        raise RuntimeError(
            f"llm-gateway: {function.__qualname__}{parameters} is not the function this guard was written for "
            f"{expected}: check litellm_guard.py against this LiteLLM"
        )


def skip_logging_of_authentication_failures(logging_class=ProxyLogging):
    original = logging_class._is_proxy_only_llm_api_error
    if getattr(original, PATCHED_MARK, False):
        return
    _check_signature(original, PATCHED_SIGNATURE)

    def is_proxy_only_llm_api_error(self, original_exception, error_type=None, route=None):
        if error_type == ProxyErrorTypes.auth_error:
            return False
        return original(self, original_exception, error_type=error_type, route=route)

    setattr(is_proxy_only_llm_api_error, PATCHED_MARK, True)
    logging_class._is_proxy_only_llm_api_error = is_proxy_only_llm_api_error


def refuse_platform_keys_to_pass_through(module=langfuse_endpoints):
    original = module._get_langfuse_proxy_credentials
    if getattr(original, PATCHED_MARK, False):
        return
    _check_signature(original, PASS_THROUGH_SIGNATURE)

    def team_credentials_only(*, dynamic_host_supplied, dynamic_langfuse_public_key, dynamic_langfuse_secret_key):
        if not (dynamic_langfuse_public_key and dynamic_langfuse_secret_key):
            from fastapi import HTTPException  # what LiteLLM's route raises too; imported once a request needs it

            raise HTTPException(status_code=403, detail={
                "error": "llm-gateway: the Langfuse pass-through serves a team's keys only (this key has no team)"})
        return original(dynamic_host_supplied=dynamic_host_supplied, dynamic_langfuse_public_key=dynamic_langfuse_public_key,
                        dynamic_langfuse_secret_key=dynamic_langfuse_secret_key)

    setattr(team_credentials_only, PATCHED_MARK, True)
    module._get_langfuse_proxy_credentials = team_credentials_only


async def key_policy(request):
    """general_settings.custom_key_policy: `request.effective_key` is the key as it will be written."""
    if KEY_TRACING_FIELD in (request.effective_key.metadata or {}):
        return {
            "decision": False,
            "message": (f"llm-gateway: a key's metadata.{KEY_TRACING_FIELD} is refused: every call is traced in "
                        "its team's Langfuse project, which the gateway's config sets"),
        }
    return {"decision": True}


skip_logging_of_authentication_failures()
refuse_platform_keys_to_pass_through()
