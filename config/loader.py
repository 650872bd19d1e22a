"""Turn raw Pulumi stack config into `Settings`, or fail with every problem at once.

Input is the stack's whole config map as the Pulumi runtime holds it (`llm-gateway:teams` -> JSON
text, `aws:region` -> text) plus the set of keys that were stored as secrets. The schema and its
rules are config/settings.py; here the map becomes its input, and the refusals one line each with the
key path and the value (never a secret's). No Pulumi import here: the loader is a pure function,
tested table-driven.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Collection, Mapping
from contextlib import suppress
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic.json_schema import SkipJsonSchema

from config.fields import Check, Hint, Secret, show
from reference.images import parse_image
from renderers.litellm_proxy import render_proxy_config
from services.specs import stack_images
from config.settings import DOCKER_HUB_CREDENTIALS, DOCKER_HUB_TOKEN_HOWTO, NAMESPACE, REFUSED_KEYS, Settings

# pydantic's own refusals in the rules' words (the value follows the key path, unless a secret)
WORDING = {
    "string_type": "must be a non-empty string",
    "string_too_short": "must be a non-empty string",
    "int_type": "must be an integer",
    "bool_type": "must be true or false",
    "float_type": "must be a number",
    "finite_number": "must be a finite number",
    "greater_than_equal": "must be >= {ge}",
    "less_than_equal": "must be <= {le}",
    "tuple_type": "must be a list",
    "model_type": "must be an object",
    "dict_type": "must be an object",
}


def _model(annotation: Any) -> type[BaseModel] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


# The AWS provider's keys the settings read or refuse; its others are its own.
AWS_KEYS = {key for key in [*(field.alias for field in Settings.model_fields.values()), *REFUSED_KEYS]
            if key.startswith("aws:")}
# Pulumi hands objects and lists as JSON text, scalars as their text (each field reads its own: a
# password "1.50" or "true" stays what it is).
STRUCTURED = {field.alias for field in Settings.model_fields.values()
              if _model(field.annotation) or get_origin(field.annotation) in (tuple, dict)}


class SettingsError(ValueError):
    """Every problem in a stack's config, one per line, each with its key path."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(
            f"invalid stack config ({len(problems)} problem{'s' if len(problems) != 1 else ''}):\n"
            + "\n".join(f"  - {p}" for p in problems)
        )


def load_settings(raw_config: Mapping[str, Any], secret_keys: Collection[str], stack: str,
                  project: str = NAMESPACE) -> Settings:
    """Validate the stack config and return Settings; raise SettingsError listing every problem."""
    prefix = f"{project}:"
    data = {key.removeprefix(prefix): value for key, value in raw_config.items()
            if key.startswith(prefix) or key in AWS_KEYS}
    data |= {key: _decode(data[key]) for key in STRUCTURED if key in data}
    data |= {"pulumi:project": project, "pulumi:stack": stack}
    secret = {key.removeprefix(prefix) for key in secret_keys}
    try:
        settings = Settings.model_validate(data, context={"secret_keys": secret})
    except ValidationError as error:
        raise SettingsError([_problem(e) for e in error.errors()]) from None
    if problem := _docker_hub_problem(settings):
        raise SettingsError([problem])
    return settings


def _decode(value: Any) -> Any:
    with suppress(TypeError, ValueError):
        return json.loads(value)
    return value


def _problem(error: Mapping[str, Any]) -> str:
    loc, kind = error["loc"], error["type"]
    path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" if i else part for i, part in enumerate(loc))
    if kind == "rule":
        return f"{path} {error['msg']}"
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        return f"{path} {REFUSED_KEYS.get(path) or model.unknown_key + _suggest(loc[-1], _keys(model))}"
    field = _fields(_model_at(loc[:-1])).get(loc[-1])
    hints = [m.hint for marker in (Hint, Check) for m in (field.metadata if field else ()) if isinstance(m, marker) and m.hint]
    if kind == "missing":
        return f"{path} is required" + (f" ({hints[0]})" if hints else "")
    message = WORDING.get(kind, error["msg"]).format(**{key: _plain(value) for key, value in (error.get("ctx") or {}).items()})
    if kind in ("model_type", "dict_type") and hints:
        message += f" ({hints[0]})"
    elif kind == "model_type" and (entry := _model_at(loc)) and entry.shape:  # a list's entry
        message += f" {entry.shape}"
    secret = any(isinstance(m, Secret) for m in _fields(Settings)[loc[0]].metadata)
    return f"{path} {message}" if secret else f"{path} {show(error['input'])} {message}"


def _plain(number: Any) -> Any:
    return int(number) if isinstance(number, float) and number.is_integer() else number


def _fields(model: type[BaseModel] | None) -> dict[str, FieldInfo]:
    return {field.alias: field for field in model.model_fields.values()} if model else {}


def _model_at(loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The model whose keys are at `loc` (a list's entries, a map's values, a key's object)."""
    annotation: Any = Settings
    for part in loc:
        fields = _fields(_model(annotation))
        if part in fields:
            annotation = fields[part].annotation
        else:
            args = get_args(annotation)
            annotation = args[0] if get_origin(annotation) is tuple else args[-1] if args else None
    return _model(annotation)


def _keys(model: type[BaseModel] | None) -> list[str]:
    """What a stack may write in `model`: neither Pulumi's own names nor what is joined in."""
    return [alias for alias, field in _fields(model).items()
            if ":" not in alias and not any(isinstance(m, SkipJsonSchema) for m in field.metadata)]


def _suggest(key: str, known: Collection[str]) -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    return f" (did you mean {close[0]}?)" if close else f" (known: {', '.join(sorted(known))})"


def _docker_hub_problem(settings: Settings) -> str | None:
    """Prod pulls Docker Hub images authenticated: anonymous pulls are limited per NAT address. Which
    images run is known once the settings are whole (the services decide it)."""
    if settings.environment != "prod" or settings.docker_hub_credentials is not None:
        return None
    on_hub = sorted(image.tagged for image in map(parse_image, stack_images(settings, render_proxy_config(settings)))
                    if image.registry == "docker.io")
    if not on_hub:
        return None
    return (f"{DOCKER_HUB_CREDENTIALS} is required in prod: {', '.join(on_hub)} come from Docker Hub, whose anonymous "
            f"pulls are limited per address (reference/images.py DOCKER_HUB_ONLY); {DOCKER_HUB_TOKEN_HOWTO}")
