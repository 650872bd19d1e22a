"""What every component shares: its type token and how its children are parented."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import pulumi

T = TypeVar("T")


def after(value: pulumi.Input[T], resources: Sequence[pulumi.Resource]) -> pulumi.Output[T]:
    """`value` as an input that also depends on `resources`, so whatever takes it is created and updated
    only once they are: a role's ARN after the role's permissions (IAM before use). By their URNs,
    which a preview knows too, so the value stays known."""
    return pulumi.Output.all(value, *(resource.urn for resource in resources)).apply(lambda values: values[0])


class GatewayComponent(pulumi.ComponentResource):
    """A ComponentResource typed `llm-gateway:index:<ClassName>`."""

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None):
        super().__init__(f"llm-gateway:index:{type(self).__name__}", name, None, opts)
        self.name = name
        # Pulumi does not pass a component's depends_on to its children: "this component waits
        # for X" must hold for everything it creates, so children carry it explicitly.
        self._waits_for = list(opts.depends_on or []) if opts and isinstance(opts.depends_on, list) else []

    def child(self, protect: bool = False, depends_on: list | None = None, **options: Any) -> pulumi.ResourceOptions:
        """Options for a child resource: parented here, protected when asked."""
        waits_for = [*self._waits_for, *(depends_on or [])]
        return pulumi.ResourceOptions(parent=self, protect=protect or None, depends_on=waits_for or None, **options)
