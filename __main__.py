"""llm-gateway: compose the stack from validated settings. Nothing else happens here."""

import pulumi

from config.litellm_config import render_proxy_config
from config.stack_config import read_settings

settings = read_settings()  # raises before any resource is registered when the config is bad
proxy_config = render_proxy_config(settings)

pulumi.export("environment", settings.environment)
