"""What every component shares: its type token and how its children are parented."""

from __future__ import annotations

from typing import Any

import pulumi


class GatewayComponent(pulumi.ComponentResource):
    """A ComponentResource typed `llm-gateway:index:<ClassName>`."""

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None):
        super().__init__(f"llm-gateway:index:{type(self).__name__}", name, None, opts)
        self.name = name

    def child(self, protect: bool = False, **options: Any) -> pulumi.ResourceOptions:
        """Options for a child resource: parented here, protected when asked."""
        return pulumi.ResourceOptions(parent=self, protect=protect or None, **options)
