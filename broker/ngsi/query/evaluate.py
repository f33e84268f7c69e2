"""In-memory evaluation of a parsed Simple Query Language filter against an entity.

It reproduces what Orion's MongoDB filters (`StringFilter::mongoFilterPopulate`) select:
- every binary statement needs its target to exist (Orion adds `$exists: true` to `!=`);
- type bracketing: numbers (and dates, held as epoch numbers) compare with numbers only,
  strings with strings (code-point order, the same as MongoDB's UTF-8 byte order), booleans
  with booleans, `null` with `null`; `~=` only ever matches strings;
- a path that meets an array looks into its elements, and an array value matches when any
  element does (MongoDB's implicit array traversal), e.g. `color==red` on `["red", "blue"]`;
- `dateCreated` / `dateModified` in `q` are the entity's dates, and in `mq` the attribute's;
  `servicePath` in `q` is the entity's service path (when no attribute has that name).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from broker.ngsi.model import Attribute, Entity
from broker.ngsi.patterns import compile_pattern
from broker.ngsi.query.ast import Compare, DateValue, Exists, Path, Query, Range, Statement, Value, ValueList

_BUILTIN_DATES = ("dateCreated", "dateModified")
SERVICE_PATH = "servicePath"  # builtin attribute: the entity's service path
_MISSING: list[Any] = []


def matches(query: Query, entity: Entity) -> bool:
    """Whether the entity satisfies every statement of the query (statements are ANDed)."""
    return all(_statement_matches(statement, entity) for statement in query.statements)


def _statement_matches(statement: Statement, entity: Entity) -> bool:
    """One statement: existence test or comparison."""
    if isinstance(statement, Exists):
        return _exists(statement.path, entity) != statement.negated
    return _compare(statement, _targets(statement.path, entity))


# --- what a path reaches ----------------------------------------------------------------------


def _exists(path: Path, entity: Entity) -> bool:
    """Unary statements: Orion tests attribute names (q), or `$exists` on metadata/compound paths."""
    attr = entity.attrs.get(path.attr)
    if attr is None:
        return False
    if path.metadata is None:
        return not path.sub or bool(_resolve(attr.value, path.sub))
    if not path.sub and path.metadata in _BUILTIN_DATES:
        return True  # attrs.A.creDate / attrs.A.modDate are always there
    md = attr.metadata.get(path.metadata)
    if md is None:
        return False
    return not path.sub or bool(_resolve(md.value, path.sub))


def _targets(path: Path, entity: Entity) -> list[Any]:
    """The values a binary statement compares against (empty when the target does not exist)."""
    if path.metadata is None and not path.sub and path.attr in _BUILTIN_DATES:
        return [entity.cre_date if path.attr == "dateCreated" else entity.mod_date]
    attr = entity.attrs.get(path.attr)
    if attr is None:
        if path.attr == SERVICE_PATH and path.metadata is None and not path.sub:
            return [entity.service_path]  # the builtin attribute, unless the entity has its own
        return _MISSING
    if path.metadata is None:
        return _resolve(attr.value, path.sub)
    return _metadata_targets(attr, path)


def _metadata_targets(attr: Attribute, path: Path) -> list[Any]:
    """mq targets: the metadata value (or a path in it), or the attribute's own dates."""
    if not path.sub and path.metadata in _BUILTIN_DATES:
        return [attr.cre_date if path.metadata == "dateCreated" else attr.mod_date]
    md = attr.metadata.get(path.metadata or "")
    if md is None:
        return _MISSING
    return _resolve(md.value, path.sub)


def _resolve(value: Any, sub: tuple[str, ...]) -> list[Any]:
    """Values a MongoDB dotted path reaches inside `value`, descending one array level per step."""
    current = [value]
    for segment in sub:
        current = [found for v in current for found in _step(v, segment)]
    return current


def _step(value: Any, segment: str) -> Iterator[Any]:
    """One path step: a dict key, an array index, or the key in each dict element of an array."""
    if isinstance(value, dict):
        if segment in value:
            yield value[segment]
    elif isinstance(value, list):
        index = _array_index(segment)
        if index is not None and index < len(value):
            yield value[index]
        for element in value:
            if isinstance(element, dict) and segment in element:
                yield element[segment]


def _array_index(segment: str) -> int | None:
    """A canonical non-negative integer path segment, as MongoDB reads positions."""
    if segment.isascii() and segment.isdigit() and str(int(segment)) == segment:
        return int(segment)
    return None


def _candidates(targets: Iterable[Any]) -> list[Any]:
    """Targets plus the elements of array targets: any of them may satisfy a condition."""
    out: list[Any] = []
    for target in targets:
        out.append(target)
        if isinstance(target, list):
            out.extend(target)
    return out


# --- comparisons ------------------------------------------------------------------------------


def _compare(statement: Compare, targets: list[Any]) -> bool:
    """A binary statement on existing targets; a missing target never matches (not even `!=`)."""
    if not targets:
        return False
    candidates = _candidates(targets)
    op, value = statement.op, statement.value
    if op == "==":
        return _equals_any(value, candidates)
    if op == "!=":
        return not _equals_any(value, candidates)
    if op == "~=":
        return isinstance(value, str) and _pattern_matches(value, candidates)
    return any(_ordered(op, candidate, value) for candidate in candidates)


def _equals_any(value: Value, candidates: list[Any]) -> bool:
    """`==` semantics: single value, any element of a list, or within a range."""
    if isinstance(value, Range):
        return _in_range(value, candidates)
    if isinstance(value, ValueList):
        return any(_equal(candidate, v) for candidate in candidates for v in value.values)
    return any(_equal(candidate, value) for candidate in candidates)


def _in_range(value: Range, candidates: list[Any]) -> bool:
    """`{$gte: low, $lte: high}`: as in MongoDB, each bound may be met by a different array element."""
    return any(_ordered(">=", c, value.low) for c in candidates) and any(
        _ordered("<=", c, value.high) for c in candidates
    )


def _equal(candidate: Any, value: Any) -> bool:
    """Type-bracketed equality (a boolean is never a number, `null` only equals `null`)."""
    if value is None:
        return candidate is None
    if isinstance(value, bool):
        return isinstance(candidate, bool) and candidate == value
    if isinstance(value, str):
        return isinstance(candidate, str) and candidate == value
    number = _number(value)
    return number is not None and _is_number(candidate) and candidate == number


def _ordered(op: str, candidate: Any, value: Any) -> bool:
    """`>`, `<`, `>=`, `<=` between values of the same kind only."""
    if isinstance(value, str):
        if not isinstance(candidate, str):
            return False
        return _apply(op, candidate, value)
    number = _number(value)
    if number is None or not _is_number(candidate):
        return False
    return _apply(op, candidate, number)


def _apply(op: str, left: Any, right: Any) -> bool:
    """The ordering operator itself."""
    if op == ">":
        return bool(left > right)
    if op == "<":
        return bool(left < right)
    if op == ">=":
        return bool(left >= right)
    return bool(left <= right)


def _number(value: Any) -> float | None:
    """A filter value as a number: floats, and dates as epoch seconds."""
    if isinstance(value, DateValue):
        return value.epoch
    if _is_number(value):
        return float(value)
    return None


def _is_number(value: Any) -> bool:
    """JSON numbers (DateTime values are held as epoch floats too), never booleans."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _pattern_matches(pattern: str, candidates: list[Any]) -> bool:
    """`~=`: a regular-expression search, on string values only."""
    compiled = compile_pattern(pattern)
    if compiled is None:
        return False
    return any(isinstance(c, str) and compiled.search(c) is not None for c in candidates)
