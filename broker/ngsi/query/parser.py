"""Parser for the Simple Query Language, reproducing Orion's `StringFilter::parse` step by step.

Every rejection is an `NgsiError` (400 BadRequest) whose description is Orion's text; no other
exception escapes `parse_q` / `parse_mq`, whatever the input. The order of the checks follows
Orion's (`src/lib/rest/StringFilter.cpp`) so that the first error reported is the same one.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from broker.ngsi.datetimes import parse_iso8601
from broker.ngsi.errors import NgsiError, bad_request
from broker.ngsi.patterns import compile_pattern
from broker.ngsi.query.ast import (
    Compare,
    DateValue,
    Exists,
    Orderable,
    Path,
    Query,
    Range,
    Scalar,
    Statement,
    Value,
    ValueList,
)

Q = "q"
MQ = "mq"

RANGE_ONLY_EQUALITY = "ranges only valid for equal and not equal ops"
LIST_ONLY_EQUALITY = "lists only valid for equal and not equal ops"
FORBIDDEN_IN_FILTER = "forbidden characters in String Filter"

_WS = " \t\n"  # Orion's wsStrip
_FORBIDDEN = frozenset("<>\"'=;()")  # Orion's forbiddenChars
_ORDER_OPS = frozenset({">", "<", ">=", "<="})
_OP_NAMES = {
    "==": "Equals",
    "!=": "Differs",
    ">": "GreaterThan",
    "<": "LessThan",
    ">=": "GreaterThanOrEqual",
    "<=": "LessThanOrEqual",
    "~=": "MatchPattern",
}
_TWO_CHAR_OPS = {"=": "==", "~": "~=", "!": "!=", ">": ">=", "<": "<="}
_ONE_CHAR_OPS = {"<": "<", ">": ">", ":": "=="}
_EXISTS = "exists"
_NOT_EXISTS = "!exists"
_DBL_MIN = 2.2250738585072014e-308

# C `strtod` in the C locale, followed only by whitespace (Orion's str2double).
_STRTOD = re.compile(
    r"""[ \t\n\v\f\r]*(?P<num>[+-]?(?:
        (?P<hex>0x(?:[0-9a-f]+\.?[0-9a-f]*|\.[0-9a-f]+)(?:p[+-]?[0-9]+)?)
      | (?P<dec>(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[+-]?[0-9]+)?)
      | (?P<inf>inf(?:inity)?)
      | (?P<nan>nan(?:\([0-9a-z_]*\))?)
    ))[ \t\n\v\f\r]*\Z""",
    re.VERBOSE | re.IGNORECASE | re.ASCII,
)


@dataclass
class _Item:
    """One parsed statement plus what Orion's later checks (mongoFilterPopulate) need."""

    statement: Statement
    attr_name: str
    metadata_name: str


def parse_q(text: str) -> Query:
    """Parse a `q` filter (attribute values) into a `Query`, or raise Orion's 400."""
    return _parse(text, Q)


def parse_mq(text: str) -> Query:
    """Parse an `mq` filter (metadata values, `attr.md[.path]`) into a `Query`, or raise Orion's 400."""
    return _parse(text, MQ)


def _parse(text: str, kind: str) -> Query:
    """Guard: whatever goes wrong unexpectedly still surfaces as a 400, never as a crash."""
    try:
        return _parse_filter(text, kind)
    except NgsiError:
        raise
    except Exception:  # pragma: no cover - defensive, the parser is meant to be total
        raise bad_request(f"invalid character found in URI param /{kind}/") from None


# --- whole filter -----------------------------------------------------------------------------


def _parse_filter(text: str, kind: str) -> Query:
    """StringFilter::parse: split on `;`, parse every item, then the mq-wide checks."""
    text = text.split("\0", 1)[0]  # Orion sees a C string
    if text == "" or text == ";":
        raise bad_request("empty q")
    if ";;" in text:
        raise bad_request("empty q-item")
    if text.endswith(";"):
        text = text[:-1]
    stripped = _ws_strip(text)
    if stripped.endswith(";"):
        raise bad_request("empty q-item")
    if stripped:
        text = text.rstrip(_WS)  # wsStrip zeroes trailing whitespace in the buffer strtok_r reads
    items = [_parse_token(token, kind) for token in text.split(";") if token != ""]
    if kind == MQ:
        _check_mq_names(items)
    return Query(tuple(item.statement for item in items))


def _parse_token(token: str, kind: str) -> _Item:
    """One `;`-separated token: whitespace-only tokens are their own error."""
    token = _ws_strip(token)
    if token == "":
        raise bad_request("empty q-item (only whitespace)")
    return _parse_item(token, kind)


def _check_mq_names(items: list[_Item]) -> None:
    """mongoFilterPopulate's mq checks, run only once every item parsed."""
    for item in items:
        if item.attr_name == "":
            raise bad_request("no attribute name - not valid for metadata filters")
        if item.metadata_name == "":
            raise bad_request("no metadata name - not valid for metadata filters")


# --- one statement ----------------------------------------------------------------------------


def _parse_item(item: str, kind: str) -> _Item:
    """StringFilterItem::parse: operator, left-hand side, then right-hand side."""
    op, lhs, rhs = _op_find(item)
    lhs, rhs = _ws_strip(lhs), _ws_strip(rhs)
    if lhs == "" and op not in (_EXISTS, _NOT_EXISTS):
        raise bad_request("empty left-hand-side in q-item")
    if _forbidden(lhs, exceptions="'"):
        raise bad_request(f"invalid character found in URI param /{kind}/")
    attr, metadata, sub = _lhs_parse(lhs, kind)
    path = Path(_decode(attr), _decode(metadata) if kind == MQ else None, sub)
    if rhs == "":
        raise bad_request("empty right-hand-side in q-item")
    if op in (_EXISTS, _NOT_EXISTS):
        statement: Statement = _unary(path, op, rhs, metadata, kind)
    else:
        statement = Compare(path, op, _rhs_value(op, rhs))
    return _Item(statement, attr, metadata)


def _op_find(expression: str) -> tuple[str, str, str]:
    """Orion's opFind: the first operator outside single quotes splits LHS from RHS."""
    if expression.startswith("!"):
        return _NOT_EXISTS, expression[1:], expression[1:]
    inside_quotes = False
    for i, c in enumerate(expression):
        if c == "'":
            inside_quotes = not inside_quotes
            continue
        if inside_quotes:
            continue
        nxt = expression[i + 1 : i + 2]
        if nxt == "=":
            op = _TWO_CHAR_OPS.get(c)
            width = 2
        else:
            op = _ONE_CHAR_OPS.get(c)
            width = 1
        if op is not None:
            return op, expression[:i], expression[i + width :]
    return _EXISTS, expression, expression


def _unary(path: Path, op: str, rhs: str, metadata: str, kind: str) -> Exists:
    """Existence statements: only quotes around dotted tokens are allowed; mq needs a metadata."""
    if _forbidden_quotes(rhs):
        raise bad_request(FORBIDDEN_IN_FILTER)
    if kind == MQ and metadata == "":
        raise bad_request("no metadata in right-hand-side of q-item")
    return Exists(path, negated=(op == _NOT_EXISTS))


def _lhs_parse(lhs: str, kind: str) -> tuple[str, str, tuple[str, ...]]:
    """StringFilterItem::lhsParse: attribute, metadata (mq) and compound path, still `=`-encoded."""
    start = _dots_in_quotes_to_equals(lhs)
    if "." not in start:
        return start, "", ()
    attr, rest = start.split(".", 1)
    if kind == MQ:
        if "." not in rest:
            return attr, rest, ()
        metadata, compound = rest.split(".", 1)
        return attr, metadata, _compound_path(compound)
    return attr, "", _compound_path(rest)


def _compound_path(compound: str) -> tuple[str, ...]:
    """Tokens of a compound path (`''` means none, as in Orion); quoted dots come back as dots."""
    if compound == "":
        return ()
    return tuple(_decode(token) for token in compound.split("."))


def _dots_in_quotes_to_equals(s: str) -> str:
    """Orion's lhsDotToEqualIfInsideQuote: `'a.b'.c` becomes `a=b.c`."""
    out: list[str] = []
    inside_quotes = False
    for c in s:
        if c == "'":
            inside_quotes = not inside_quotes
        elif inside_quotes and c == ".":
            out.append("=")
        else:
            out.append(c)
    return "".join(out)


def _decode(token: str) -> str:
    """Undo the `=` encoding of quoted dots (a real `=` cannot reach here: it is forbidden in LHS)."""
    return token.replace("=", ".")


# --- right-hand side --------------------------------------------------------------------------


def _rhs_value(op: str, rhs: str) -> Value:
    """Pattern, range, list or single value, tried in Orion's order (`..` before `,`)."""
    if op == "~=":
        return _pattern(rhs)
    if ".." in rhs:
        return _range(op, rhs)
    if "," in rhs:
        return _list(op, rhs)
    return _single(op, rhs)


def _pattern(rhs: str) -> str:
    """`~=`: the whole RHS is a regular expression, with no forbidden characters at all."""
    if _forbidden(rhs):
        raise bad_request(FORBIDDEN_IN_FILTER)
    if not _regex_compiles(rhs):
        raise bad_request(f"error compiling filter regex: '{rhs}'")
    return rhs


def _regex_compiles(pattern: str) -> bool:
    """Whether the pattern is a valid regular expression (RE2's dialect stands in for POSIX ERE)."""
    return compile_pattern(pattern) is not None


def _single(op: str, rhs: str) -> Scalar:
    """valueParse: one value; ordering operators take numbers, dates and strings only."""
    value = _value_get(rhs)
    if op in _ORDER_OPS and (isinstance(value, bool) or value is None):
        type_name = "Null" if value is None else "Bool"
        raise bad_request(f"values of type /{type_name}/ not supported for operator /{_OP_NAMES[op]}/")
    return value


def _range(op: str, rhs: str) -> Range:
    """rangeParse: `from..to`, split at the first `..`, both ends of one orderable kind."""
    if op not in ("==", "!="):
        raise bad_request(RANGE_ONLY_EQUALITY)
    low_text, high_text = rhs.split("..", 1)
    low_text, high_text = _ws_strip(low_text), _ws_strip(high_text)
    if low_text == "" or high_text == "":
        raise bad_request("empty item in range")
    low = _value_get(low_text)
    if not _is_orderable(low):
        raise bad_request("invalid data type for /range-from/")
    high = _value_get(high_text)
    if not _is_orderable(high):
        raise bad_request("invalid data type for /range-to/")
    if _kind(low) != _kind(high):
        raise bad_request("invalid range: types mixed")
    return Range(low, high)  # type: ignore[arg-type]


def _list(op: str, rhs: str) -> ValueList:
    """listParse: comma-separated items (commas inside single quotes do not split)."""
    if op not in ("==", "!="):
        raise bad_request(LIST_ONLY_EQUALITY)
    values: list[Orderable] = []
    start = 0
    in_string = False
    for i, c in enumerate(rhs):
        if c == "'":
            in_string = not in_string
        if c == "," and not in_string:
            values.append(_list_item(rhs[start:i], values))
            start = i + 1
            if start == len(rhs):
                raise bad_request("empty item in list")
    if start != len(rhs):
        values.append(_list_item(rhs[start:], values))
    return ValueList(tuple(values))


def _list_item(text: str, previous: list[Orderable]) -> Orderable:
    """listItemAdd: the first item fixes the kind (number, date or string) of the whole list."""
    text = _ws_strip(text)
    if text == "":
        raise bad_request("empty item in list")
    value = _value_get(text)
    if not _is_orderable(value) or (previous and _kind(previous[0]) != _kind(value)):
        raise bad_request("invalid JSON value type in list")
    return value  # type: ignore[return-value]


def _value_get(s: str) -> Scalar:
    """valueGet: forced string, number, date, true/false/null, else plain string."""
    if s.startswith("'"):
        return _forced_string(s)
    number = _str2double(s)
    if number is not None:
        return number
    date = _date(s)
    if date is not None:
        return date
    if s in _LITERALS:
        return _LITERALS[s]
    if _forbidden(s):
        raise bad_request(FORBIDDEN_IN_FILTER)
    return s


_LITERALS: dict[str, Scalar] = {"true": True, "false": False, "null": None}


def _forced_string(s: str) -> str:
    """`'text'` is always a string; Orion reads a lone `'` as the empty string."""
    inner = s[1:]
    if inner != "":
        if not inner.endswith("'"):
            raise bad_request("non-terminated forced string")
        inner = inner[:-1]
    if "'" in inner:
        raise bad_request("quote in forced string")
    if _forbidden(inner):
        raise bad_request(FORBIDDEN_IN_FILTER)
    return inner


def _str2double(s: str) -> float | None:
    """Orion's str2double: a whole C `strtod` number (hex, inf, nan included), no over/underflow."""
    m = _STRTOD.match(s)
    if m is None:
        return None
    text = m.group("num")
    try:
        if m.group("hex"):
            value = float.fromhex(text)
        elif m.group("nan"):
            value = math.nan if not text.startswith("-") else -math.nan
        else:
            value = float(text)
    except (ValueError, OverflowError):
        return None
    if _out_of_range(value, m):
        return None
    return value


def _out_of_range(value: float, m: re.Match[str]) -> bool:
    """ERANGE: a finite literal that overflows, or a non-zero one that underflows."""
    if m.group("inf") or m.group("nan"):
        return False
    if math.isinf(value):
        return True
    mantissa = re.split(r"[eEpP]", m.group("hex") or m.group("dec"))[0]
    nonzero_literal = any(ch not in "0.xX" for ch in mantissa)
    return nonzero_literal and abs(value) < _DBL_MIN


def _date(s: str) -> DateValue | None:
    """An ISO 8601 date; Orion's parser returns -1 for failure, so that instant is not a date."""
    if not s.isascii():
        return None
    try:
        epoch = parse_iso8601(s)
    except Exception:  # pragma: no cover - parse_iso8601 is meant to return None
        return None
    if epoch is None or epoch == -1.0:
        return None
    return DateValue(epoch)


# --- helpers ----------------------------------------------------------------------------------


def _is_orderable(value: Scalar) -> bool:
    """Kinds allowed in ranges and lists: number, date, string."""
    return not isinstance(value, bool) and value is not None


def _kind(value: Scalar) -> type:
    """The value kind, for Orion's 'same kind' rules of ranges and lists."""
    return type(value)


def _ws_strip(s: str) -> str:
    """Orion's wsStrip: only space, tab and newline."""
    return s.strip(_WS)


def _forbidden(s: str, exceptions: str = "") -> bool:
    """Orion's forbiddenChars: any of `<>"'=;()` not listed in `exceptions`."""
    return any(c in _FORBIDDEN and c not in exceptions for c in s)


def _forbidden_quotes(s: str) -> bool:
    """Orion's forbiddenQuotes: a quote must start the text, end it, or touch a dot."""
    for ix in range(1, len(s)):
        if s[ix] != "'":
            continue
        before, after = s[ix - 1], s[ix + 1 : ix + 2]
        if before != "." and after not in (".", ""):
            return True
    return False
