"""The Simple Query Language (`q` / `mq`) as data: what a parsed filter means, with no I/O.

Value kinds follow Orion's typing of a right-hand side (`StringFilter.cpp`, `valueGet`):
numbers are always `float`, strings `str`, `true`/`false` are `bool`, `null` is `None`
and ISO 8601 dates are `DateValue` (epoch seconds, compared as numbers, as Orion stores them).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DateValue:
    """An ISO 8601 date in a filter, as epoch seconds."""

    epoch: float


Scalar = float | str | bool | None | DateValue
Orderable = float | str | DateValue


@dataclass(frozen=True)
class Path:
    """What a statement looks at: attribute, metadata (mq only) and a path inside a compound value."""

    attr: str
    metadata: str | None = None
    sub: tuple[str, ...] = ()


@dataclass(frozen=True)
class Range:
    """`low..high`, both ends included; both ends have the same kind (number, string or date)."""

    low: Orderable
    high: Orderable


@dataclass(frozen=True)
class ValueList:
    """`a,b,c`: matches when any element equals; all elements have the same kind."""

    values: tuple[Orderable, ...]


Value = Scalar | Range | ValueList


@dataclass(frozen=True)
class Exists:
    """Unary statement: `attr` (exists) or `!attr` (negated, does not exist)."""

    path: Path
    negated: bool = False


@dataclass(frozen=True)
class Compare:
    """Binary statement; `op` is one of `==`, `!=`, `>`, `<`, `>=`, `<=`, `~=` (`:` is stored as `==`).

    For `~=` the value is the regular expression text.
    """

    path: Path
    op: str
    value: Value


Statement = Exists | Compare


@dataclass(frozen=True)
class Query:
    """Statements joined by `;`: an entity matches when every statement does (AND)."""

    statements: tuple[Statement, ...]
