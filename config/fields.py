"""The field types of the stack settings: how each reads what Pulumi hands over, what it refuses and
how it says so, and how it shows in the stack file's JSON Schema (config/stack_schema.py).

Pulumi hands every top-level value as text (objects and lists as JSON text), and inside JSON a number
may be quoted. So each scalar reads text too (`"30"` is 30, `"true"` is true) and is strict
otherwise: a bool is no integer, 2.0 is no integer, a list is no name; an integer is read as text
where text is expected (`engineVersion: 17`).

A refusal reads after its key path, with the value unless it is a secret: `'Home Rentals' must match
^[a-z][a-z0-9-]{1,30}$`. The checks here word their own refusals; pydantic's own (types, bounds,
unknown and missing keys) are worded by config/loader.py.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from collections.abc import Callable, Collection
from contextlib import suppress
from typing import Annotated, Any, ClassVar, NoReturn, Self, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, ValidationError, ValidationInfo, model_validator
from pydantic.alias_generators import to_camel
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import InitErrorDetails, PydanticCustomError, PydanticKnownError, core_schema

HIDDEN = object()  # a value a message leaves out (a secret, or nothing to show)


def show(value: Any) -> str:
    if isinstance(value, str) or (isinstance(value, float) and not math.isfinite(value)):
        return f"'{value}'"
    return json.dumps(value)


def worded(value: Any, message: str) -> str:
    return message if value is HIDDEN else f"{show(value)} {message}"


def refuse(value: Any, message: str) -> NoReturn:
    raise PydanticCustomError("rule", worded(value, message))


class Problems:
    """Refusals found across keys, each at its path below the object being checked."""

    def __init__(self) -> None:
        self.details: list[InitErrorDetails] = []

    def add(self, path: str | tuple[str | int, ...], message: str, value: Any = HIDDEN) -> None:
        self.details.append(InitErrorDetails(
            type=PydanticCustomError("rule", worded(value, message)), loc=path if isinstance(path, tuple) else (path,),
            input=None if value is HIDDEN else value,
        ))

    def raise_any(self, title: str) -> None:
        if self.details:
            raise ValidationError.from_exception_data(title, self.details)


class Frozen(BaseModel):
    """Immutable; camelCase keys as the stack file spells them; a key it does not know is refused."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", alias_generator=to_camel, use_attribute_docstrings=True,
        hide_input_in_errors=True,  # a ValidationError printed as it is never shows a secret
    )
    # How config/loader.py words a key the model does not know, and what an entry of a list looks like
    # when it is no object.
    unknown_key: ClassVar[str] = "is not a known key"
    shape: ClassVar[str | None] = None

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise AttributeError(f"{type(self).__name__} is immutable")  # as a frozen dataclass says it

    def check(self, problems: Problems) -> None:
        """Rules across this object's keys: they run once every key of it is valid."""

    @model_validator(mode="after")
    def _checked(self, info: ValidationInfo) -> Self:
        if (info.context or {}).get("checks", True):  # off: the keys alone, for rules across objects
            problems = Problems()
            self.check(problems)
            problems.raise_any(type(self).__name__)
        return self


def _text(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _integer(value: Any) -> Any:
    return int(value) if isinstance(value, str) and re.fullmatch(r"-?\d+", value) else value


def _flag(value: Any) -> Any:
    return value == "true" if isinstance(value, str) and value in ("true", "false") else value


def _number(value: Any) -> Any:
    if isinstance(value, str):
        with suppress(ValueError):
            return float(value)
    return value


# The reading goes last: pydantic applies a constraint to the type (and shows it in the JSON Schema)
# only when it comes first.
Text = Annotated[str, Strict(), Field(min_length=1), BeforeValidator(_text)]
Integer = Annotated[int, Strict(), BeforeValidator(_integer)]
Flag = Annotated[bool, Strict(), BeforeValidator(_flag)]
Number = Annotated[float, Strict(), Field(allow_inf_nan=False, ge=0), BeforeValidator(_number)]  # amounts


def integer(low: int, high: int | None = None) -> Any:
    return Annotated[int, Strict(), Field(ge=low, le=high), BeforeValidator(_integer)]


class Check:
    """Refuses what `accepts` says no to with `message` (or what `message(value)` says); `schema` adds to
    the field's JSON Schema, `hint` says what is expected when the key is missing."""

    def __init__(self, accepts: Callable[[Any], bool], message: str | Callable[[Any], str], *, shown: bool = True,
                 schema: dict[str, Any] | None = None, hint: str | None = None):
        self.accepts, self.message, self.shown, self.schema, self.hint = accepts, message, shown, schema or {}, hint

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(self, schema: Any, handler: Any) -> dict[str, Any]:
        return {**handler(schema), **self.schema}

    def _check(self, value: Any) -> Any:
        if not self.accepts(value):
            refuse(value if self.shown else HIDDEN, self.message if isinstance(self.message, str) else self.message(value))
        return value


def one_of(choices: Collection[Any], message: str | None = None) -> Check:
    listed = ", ".join(map(str, choices))
    return Check(choices.__contains__, message or f"must be one of: {listed}", schema={"enum": list(choices)},
                 hint=f"one of: {listed}")


def matching(pattern: str, message: str | None = None) -> Check:
    """The whole value (re.fullmatch: `$` alone would let a trailing newline through)."""
    return Check(lambda value: re.fullmatch(pattern, value) is not None, message or f"must match {pattern}",
                 schema={"pattern": pattern})


class Hint:
    """What the message says is expected when the key is missing, or the object it holds is no object."""

    def __init__(self, hint: str | None):
        self.hint = hint


class NonEmptyList(Hint):
    """A list with at least one entry, refused with what its entries look like when `entry` says."""

    def __init__(self, entry: str | None = None):
        super().__init__(entry and f"a non-empty list of {entry}")

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> core_schema.CoreSchema:
        return core_schema.no_info_before_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(self, schema: Any, handler: Any) -> dict[str, Any]:
        return {**handler(schema), "minItems": 1}

    def _check(self, value: Any) -> Any:
        if self.hint and (not isinstance(value, list) or not value):
            refuse(value, f"must be {self.hint}")
        if value == []:
            refuse(HIDDEN, "must not be empty")
        return value


def _cidr(value: Any) -> str:
    if not isinstance(value, str):
        refuse(value, "must be an IPv4 CIDR such as 10.0.0.0/8")
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError as error:
        refuse(value, f"is not a valid IPv4 CIDR ({error})")
    if network.version != 4 or "/" not in value:
        refuse(value, "must be an IPv4 CIDR such as 10.0.0.0/8")
    return value


Cidr = Annotated[str, BeforeValidator(_cidr)]


class SecretText:
    """A secret read from stack config; its value never shows up in repr, str or logs. In the stack
    file it is what `pulumi config set --secret` writes: `{secure: <ciphertext>}`."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "SecretText(***)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretText) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(cls, core_schema.str_schema(strict=True, min_length=1))

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: Any, handler: Any) -> dict[str, Any]:
        return {"type": "object", "properties": {"secure": {"type": "string"}}, "required": ["secure"],
                "additionalProperties": False, "description": "Encrypted by `pulumi config set --secret`."}


class Secret:
    """Marks a key that must be secret config: read from the stack as `how` sets it, never in plain text."""

    def __init__(self, how: str):
        self.how = how


class Plain:
    """Marks a key that must be plain config (it is carried into state): refused as a secret with `message`."""

    def __init__(self, message: str):
        self.message = message


def _not_a_key(value: Any) -> NoReturn:
    raise PydanticKnownError("extra_forbidden")


T = TypeVar("T")
# Filled in from another key once every key is valid (`Team.existing_keys` from existingLangfuseKeys):
# not a key of its own in the stack file.
Joined = Annotated[T, BeforeValidator(_not_a_key), SkipJsonSchema()]
