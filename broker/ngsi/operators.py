"""Orion's attribute update operators (`{"$inc": 1}` ...), as pure functions of the old value.

On an attribute that does not exist yet the operand is applied to an empty reference: 0 for
`$inc`/`$mul`, `{}` for `$set`, `[]` for `$push`/`$addToSet`; `$pull`, `$pullAll` and `$unset`
then do nothing, so the attribute is not created (`SKIP`). `$min`/`$max` set the operand on a new
attribute of an existing entity (MongoDB's rule) but compare it with 0 when the entity is created
or replaced (Orion's cases 3814 *_operator_creation: `$min: 2` gives 0, `$max: 10` gives 10).
A type clash that MongoDB would refuse (`$inc` on a string) is Orion's "Database Error" text, but
as a 400: it is the client's input, and no client input gets a 5xx from this broker (Orion: 500).
"""

from __future__ import annotations

import math
from typing import Any

from broker.ngsi.errors import bad_request

OPERATORS = ("$inc", "$mul", "$min", "$max", "$push", "$addToSet", "$pull", "$pullAll", "$set", "$unset")


class _Skip:
    def __repr__(self) -> str:
        return "SKIP"


SKIP: Any = _Skip()  # the operator leaves no attribute behind
_MISSING: Any = object()


def is_operator_value(value: Any) -> bool:
    """`{"$op": operand}`, or `$set` and `$unset` together, which Orion combines."""
    if not isinstance(value, dict):
        return False
    if len(value) == 1:
        return next(iter(value)) in OPERATORS
    return set(value) == {"$set", "$unset"}


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _each(operand: Any) -> tuple[list[Any], int | None]:
    """`$push`/`$addToSet` take one item, or several as `{"$each": [...], "$position": n}`."""
    if isinstance(operand, dict) and "$each" in operand and isinstance(operand["$each"], list):
        position = operand.get("$position")
        if not (isinstance(position, int) and not isinstance(position, bool)):
            position = None
        return list(operand["$each"]), position
    return [operand], None


def _db_error(op: str, detail: str) -> Exception:
    return bad_request(f"Database Error (update(): {op} - exception: {detail})")


_INT64 = (-(2**63), 2**63 - 1)


def _in_range(op: str, result: float) -> float:
    """An integer result beyond 64 bits becomes a double (Orion stores every number as one); a
    result beyond a double's range is refused, as a JSON body holding it would be."""
    if isinstance(result, int) and not _INT64[0] <= result <= _INT64[1]:
        result = float(result)
    if isinstance(result, float) and not math.isfinite(result):
        raise bad_request(f"{op}: result out of the range of a number")
    return result


def _ordered(a: Any, b: Any) -> bool:
    return (_is_number(a) and _is_number(b)) or (isinstance(a, str) and isinstance(b, str))


def apply_operator(value: dict[str, Any], current: Any = _MISSING, *, creation: bool = False) -> Any:
    """The attribute's new value when operator object `value` is applied to `current`
    (`creation`: the entity is being created or replaced)."""
    if len(value) > 1:  # $set then $unset
        result = _apply_one("$set", value["$set"], current)
        return _apply_one("$unset", value["$unset"], result)
    ((op, operand),) = value.items()
    if creation and current is _MISSING and op in ("$min", "$max"):
        current = 0
    return _apply_one(op, operand, current)


def _apply_one(op: str, operand: Any, current: Any) -> Any:
    missing = current is _MISSING
    if op in ("$inc", "$mul"):
        if not _is_number(operand):
            raise _db_error(op, "Cannot increment with non-numeric argument")
        base = 0 if missing else current
        if not _is_number(base):
            raise _db_error(op, "Cannot apply $inc/$mul to a value of non-numeric type")
        return _in_range(op, base + operand if op == "$inc" else base * operand)
    if op in ("$min", "$max"):
        if missing or current is None:
            return operand
        if not _ordered(current, operand):
            lower, higher = sorted((current, operand), key=_type_rank)
            return lower if op == "$min" else higher
        return min(current, operand) if op == "$min" else max(current, operand)
    if op in ("$push", "$addToSet"):
        base = [] if missing else current
        if not isinstance(base, list):
            raise _db_error(op, "The field must be an array")
        items = list(base)
        new, position = _each(operand)
        added = [item for i, item in enumerate(new) if op == "$push" or (item not in items and item not in new[:i])]
        if position is None:
            return items + added
        at = position if position >= 0 else max(0, len(items) + position)
        return items[:at] + added + items[at:]
    if op in ("$pull", "$pullAll"):
        if missing:
            return SKIP
        if not isinstance(current, list):
            raise _db_error(op, "Cannot apply $pull to a non-array value")
        drop = operand if op == "$pullAll" and isinstance(operand, list) else [operand]
        return [item for item in current if item not in drop]
    if op == "$set":
        if not isinstance(operand, dict):
            return operand  # a plain update with that value
        base = {} if missing else current
        if not isinstance(base, dict):
            raise _db_error(op, "Cannot create field in element")
        merged = dict(base)
        merged.update(operand)
        return merged
    # $unset
    if missing:
        return SKIP
    if not isinstance(operand, dict) or not isinstance(current, dict):
        return current
    return {k: v for k, v in current.items() if k not in operand}


def _type_rank(v: Any) -> int:
    """MongoDB's BSON comparison order, enough for `$min`/`$max` across types."""
    if v is None:
        return 0
    if _is_number(v):
        return 1
    if isinstance(v, str):
        return 2
    if isinstance(v, dict):
        return 3
    if isinstance(v, list):
        return 4
    return 5  # bool
