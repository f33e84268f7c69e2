"""JEXL expressions of custom notifications, as Orion 4 evaluates them inside `${...}`.

Pure: `compile_expression(text)` parses once (cached by text) and `Expression.evaluate(context)`
runs the tree over JSON values. The language is JEXL's (literals, context lookups, `.` and `[]`
access, `[.x < 1]` array filters, arithmetic, comparisons, `in`, `&&`/`||`, ternary, `|transform`)
with Orion's transformations. Like Orion, evaluation fails safe: a syntax error, an unknown
transformation, a type mismatch (`"a" < 1`, `null + 1`) or a missing value used in arithmetic
yields `None` (rendered `null`), never an exception.

User regexes (`replaceRegex`, `matchRegex`) run on RE2, whose matching time is linear in the
input, so no expression can stall the event loop.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson
import re2

from broker.ngsi.render import render_json

MAX_TEXT = 4096  # longer expressions are refused (null) rather than parsed
_MAX_DEPTH = 64


class JexlError(Exception):
    """A failed parse or evaluation; callers see it as null."""


# ---------------------------------------------------------------------------------- lexer

_PUNCT = (
    "//",
    "==",
    "!=",
    ">=",
    "<=",
    "&&",
    "||",
    "+",
    "-",
    "*",
    "/",
    "%",
    "^",
    ">",
    "<",
    "!",
    "|",
    "?",
    ":",
    ".",
    ",",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "\\": "\\", "'": "'", '"': '"', "/": "/"}


@dataclass(frozen=True)
class _Tok:
    kind: str  # num, str, id, op, end
    value: Any


def _lex(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if c.isdigit():
            j = i
            while j < n and text[j].isdigit():
                j += 1
            if j + 1 < n and text[j] == "." and text[j + 1].isdigit():
                j += 1
                while j < n and text[j].isdigit():
                    j += 1
                out.append(_Tok("num", float(text[i:j])))
            else:
                out.append(_Tok("num", int(text[i:j])))
            i = j
            continue
        if c in "'\"":
            j, buf = i + 1, []
            while j < n and text[j] != c:
                if text[j] == "\\" and j + 1 < n:
                    buf.append(_ESCAPES.get(text[j + 1], text[j + 1]))
                    j += 2
                    continue
                buf.append(text[j])
                j += 1
            if j >= n:
                raise JexlError("unterminated string")
            out.append(_Tok("str", "".join(buf)))
            i = j + 1
            continue
        if c.isalpha() or c in "_$@":
            j = i
            while j < n and (text[j].isalnum() or text[j] in "_$@"):
                j += 1
            word = text[i:j]
            if word in ("true", "false"):
                out.append(_Tok("lit", word == "true"))
            elif word == "null":
                out.append(_Tok("lit", None))
            elif word == "in":
                out.append(_Tok("op", "in"))
            else:
                out.append(_Tok("id", word))
            i = j
            continue
        for p in _PUNCT:
            if text.startswith(p, i):
                out.append(_Tok("op", p))
                i += len(p)
                break
        else:
            raise JexlError(f"unexpected character {c!r}")
    out.append(_Tok("end", None))
    return out


# --------------------------------------------------------------------------------- parser
# Nodes are tuples: ("lit", v) ("id", name) ("rel",) ("dot", obj, name) ("idx", obj, expr)
# ("filter", obj, expr) ("arr", [..]) ("obj", [(k, expr)..]) ("bin", op, a, b) ("neg", a) ("not", a)
# ("tern", c, a, b) ("tr", name, subject, [args])

_BINARY = [("||", "&&"), ("==", "!=", ">", ">=", "<", "<=", "in"), ("+", "-"), ("*", "/", "//", "%"), ("^",)]


class _Parser:
    def __init__(self, toks: list[_Tok]) -> None:
        self.toks = toks
        self.pos = 0
        self.depth = 0

    def peek(self) -> _Tok:
        return self.toks[self.pos]

    def take(self) -> _Tok:
        tok = self.toks[self.pos]
        self.pos += 1
        return tok

    def accept(self, op: str) -> bool:
        tok = self.peek()
        if tok.kind == "op" and tok.value == op:
            self.pos += 1
            return True
        return False

    def expect(self, op: str) -> None:
        if not self.accept(op):
            raise JexlError(f"expected {op!r}")

    def parse(self) -> tuple:
        node = self.expression()
        if self.peek().kind != "end":
            raise JexlError("unexpected trailing input")
        return node

    def expression(self) -> tuple:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise JexlError("expression too deep")
        cond = self.binary(0)
        if self.accept("?"):
            a = self.expression()
            self.expect(":")
            b = self.expression()
            cond = ("tern", cond, a, b)
        self.depth -= 1
        return cond

    def binary(self, level: int) -> tuple:
        if level == len(_BINARY):
            return self.unary()
        left = self.binary(level + 1)
        while True:
            tok = self.peek()
            if tok.kind == "op" and tok.value in _BINARY[level]:
                self.pos += 1
                right = self.binary(level + 1)
                left = ("bin", tok.value, left, right)
            else:
                return left

    def unary(self) -> tuple:
        if self.accept("!"):
            return ("not", self.unary())
        if self.accept("-"):
            return ("neg", self.unary())
        return self.transforms()

    def transforms(self) -> tuple:
        node = self.postfix()
        while self.accept("|"):
            tok = self.take()
            if tok.kind != "id":
                raise JexlError("transform name expected")
            args: list[tuple] = []
            if self.accept("("):
                if not self.accept(")"):
                    args.append(self.expression())
                    while self.accept(","):
                        args.append(self.expression())
                    self.expect(")")
            node = ("tr", tok.value, node, args)
            node = self.postfix_ops(node)
        return node

    def postfix(self) -> tuple:
        return self.postfix_ops(self.primary())

    def postfix_ops(self, node: tuple) -> tuple:
        while True:
            if self.accept("."):
                tok = self.take()
                if tok.kind != "id":
                    raise JexlError("identifier expected after '.'")
                node = ("dot", node, tok.value)
            elif self.accept("["):
                if self.peek().kind == "op" and self.peek().value == ".":
                    inner = self.expression_relative()
                    node = ("filter", node, inner)
                else:
                    node = ("idx", node, self.expression())
                self.expect("]")
            else:
                return node

    def expression_relative(self) -> tuple:
        # `[.b < 5]`: the leading `.` names the current element
        self.toks.insert(self.pos, _Tok("rel", None))
        return self.expression()

    def primary(self) -> tuple:
        tok = self.take()
        if tok.kind in ("num", "str", "lit"):
            return ("lit", tok.value)
        if tok.kind == "id":
            return ("id", tok.value)
        if tok.kind == "rel":
            return ("rel",)
        if tok.kind == "op":
            if tok.value == "(":
                node = self.expression()
                self.expect(")")
                return node
            if tok.value == "[":
                items: list[tuple] = []
                if not self.accept("]"):
                    items.append(self.expression())
                    while self.accept(","):
                        items.append(self.expression())
                    self.expect("]")
                return ("arr", items)
            if tok.value == "{":
                pairs: list[tuple[str, tuple]] = []
                if not self.accept("}"):
                    while True:
                        key = self.take()
                        if key.kind not in ("id", "str"):
                            raise JexlError("object key expected")
                        self.expect(":")
                        pairs.append((key.value, self.expression()))
                        if self.accept("}"):
                            break
                        self.expect(",")
                return ("obj", pairs)
        raise JexlError("unexpected token")


# ------------------------------------------------------------------------------ evaluator


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _truthy(v: Any) -> bool:
    if v is None or v is False:
        return False
    if _is_num(v):
        return v != 0 and v == v
    if isinstance(v, str):
        return v != ""
    return True


def _num(v: Any) -> int | float:
    if not _is_num(v):
        raise JexlError("number expected")
    return v


def _tidy(v: float) -> int | float:
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            raise JexlError("not a finite number")
        if v.is_integer() and abs(v) < 2**53:
            return int(v)
    return v


def _binary(op: str, a: Any, b: Any) -> Any:
    if op == "==":
        return _equal(a, b)
    if op == "!=":
        return not _equal(a, b)
    if op == "in":
        if isinstance(b, str) and isinstance(a, str):
            return a in b
        if isinstance(b, list):
            return any(_equal(a, x) for x in b)
        raise JexlError("bad 'in'")
    if op in (">", ">=", "<", "<="):
        if not ((_is_num(a) and _is_num(b)) or (isinstance(a, str) and isinstance(b, str))):
            raise JexlError("incomparable")
        return {">": a > b, ">=": a >= b, "<": a < b, "<=": a <= b}[op]
    if op == "+":
        if isinstance(a, str) and isinstance(b, str):
            return a + b
        return _tidy(_num(a) + _num(b))
    x, y = _num(a), _num(b)
    if op == "-":
        return _tidy(x - y)
    if op == "*":
        return _tidy(x * y)
    if y == 0 and op in ("/", "//", "%"):
        raise JexlError("division by zero")
    if op == "/":
        return _tidy(x / y)
    if op == "//":
        return _tidy(math.floor(x / y))
    if op == "%":
        return _tidy(math.fmod(x, y))
    if op == "^":
        try:
            return _tidy(float(x) ** y)
        except (OverflowError, ZeroDivisionError, ValueError, TypeError) as exc:
            raise JexlError("bad power") from exc
    raise JexlError(f"unknown operator {op}")


def _equal(a: Any, b: Any) -> bool:
    if _is_num(a) and _is_num(b):
        return a == b
    if type(a) is not type(b):
        return False
    return a == b


def _eval(node: tuple, ctx: Any, rel: Any) -> Any:
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "id":
        return ctx.get(node[1]) if isinstance(ctx, dict) else None
    if kind == "rel":
        return rel
    if kind == "dot":
        obj = _eval(node[1], ctx, rel)
        return obj.get(node[2]) if isinstance(obj, dict) else None
    if kind == "idx":
        obj = _eval(node[1], ctx, rel)
        key = _eval(node[2], ctx, rel)
        if isinstance(obj, list) and _is_num(key) and float(key).is_integer():
            i = int(key)
            return obj[i] if 0 <= i < len(obj) else None
        if isinstance(obj, dict) and isinstance(key, str):
            return obj.get(key)
        if isinstance(obj, str) and _is_num(key) and float(key).is_integer():
            i = int(key)
            return obj[i] if 0 <= i < len(obj) else None
        return None
    if kind == "filter":
        obj = _eval(node[1], ctx, rel)
        if not isinstance(obj, list):
            raise JexlError("filter on a non-array")
        return [x for x in obj if _truthy(_eval(node[2], ctx, x))]
    if kind == "arr":
        return [_eval(x, ctx, rel) for x in node[1]]
    if kind == "obj":
        return {k: _eval(v, ctx, rel) for k, v in node[1]}
    if kind == "bin":
        op = node[1]
        a = _eval(node[2], ctx, rel)
        if op == "&&":
            return _eval(node[3], ctx, rel) if _truthy(a) else a
        if op == "||":
            return a if _truthy(a) else _eval(node[3], ctx, rel)
        return _binary(op, a, _eval(node[3], ctx, rel))
    if kind == "neg":
        return _tidy(-_num(_eval(node[1], ctx, rel)))
    if kind == "not":
        return not _truthy(_eval(node[1], ctx, rel))
    if kind == "tern":
        return _eval(node[2], ctx, rel) if _truthy(_eval(node[1], ctx, rel)) else _eval(node[3], ctx, rel)
    if kind == "tr":
        fn = TRANSFORMS.get(node[1])
        if fn is None:
            raise JexlError(f"unknown transformation {node[1]}")
        subject = _eval(node[2], ctx, rel)
        args = [_eval(a, ctx, rel) for a in node[3]]
        try:
            return fn(subject, *args)
        except JexlError:
            raise
        except (TypeError, ValueError, IndexError, KeyError, AttributeError, OverflowError, re2.error) as exc:
            raise JexlError(f"{node[1]} failed") from exc
    raise JexlError("bad node")


# ------------------------------------------------------------------------ transformations


def _str(v: Any) -> str:
    if not isinstance(v, str):
        raise JexlError("string expected")
    return v


def to_text(v: Any) -> str:
    """A value as text: strings as they are, everything else as compact JSON with Orion's number
    rendering (`2.1 + -3.8` is `-1.7`, not `-1.6999999999999997`)."""
    if isinstance(v, str):
        return v
    return orjson.dumps(render_json(v)).decode()


def _index_of(s: Any, x: Any) -> Any:
    if isinstance(s, list):
        for i, item in enumerate(s):
            if _equal(item, x):
                return i
        return None
    i = _str(s).find(_str(x))
    return i if i >= 0 else None


def _substring(s: Any, start: Any, end: Any = None) -> str:
    text = _str(s)
    a = int(_num(start))
    b = len(text) if end is None else int(_num(end))
    if a < 0 or b > len(text) or a > b:
        raise JexlError("substring out of range")
    return text[a:b]


def _is_nan(v: Any) -> bool:
    if _is_num(v):
        return False
    if isinstance(v, str):
        try:
            float(v)
            return v.strip().lower() in ("nan", "inf", "-inf", "infinity", "-infinity")
        except ValueError:
            return True
    return True


def _parse_int(v: Any) -> int:
    if _is_num(v):
        return int(v)
    return int(_str(v).strip())


def _parse_float(v: Any) -> int | float:
    if _is_num(v):
        return v
    text = _str(v).strip()
    if text.lower() in ("nan", "inf", "-inf", "infinity", "-infinity"):
        raise JexlError("not a finite number")
    return _tidy(float(text))


def _type_of(v: Any) -> str:
    if v is None:
        return "Null"
    if isinstance(v, bool):
        return "Boolean"
    if _is_num(v):
        return "Number"
    if isinstance(v, str):
        return "String"
    if isinstance(v, list):
        return "Array"
    return "Object"


def _to_json(v: Any) -> Any:
    try:
        return orjson.loads(_str(v))
    except orjson.JSONDecodeError as exc:
        raise JexlError("not JSON") from exc


def _round_half_away(x: float) -> int:
    return int(math.floor(abs(x) + 0.5)) * (1 if x >= 0 else -1)


def _to_fixed(v: Any, digits: Any = 0) -> int | float:
    d = int(_num(digits))
    if not 0 <= d <= 20:
        raise JexlError("bad digits")
    return _tidy(float(f"{_num(v):.{d}f}"))


def _positive_log(fn: Callable[[float], float]) -> Callable[[Any], Any]:
    def apply(v: Any) -> Any:
        x = _num(v)
        if x <= 0:
            raise JexlError("log of a non-positive number")
        return _tidy(fn(x))

    return apply


def _sqrt(v: Any) -> Any:
    x = _num(v)
    if x < 0:
        raise JexlError("sqrt of a negative number")
    return _tidy(math.sqrt(x))


@lru_cache(maxsize=256)
def _regex(pattern: str) -> Any:
    return re2.compile(pattern)


def _replace_regex(v: Any, pattern: Any, repl: Any) -> str:
    # `$1`-style group references, as in JavaScript and Rust's regex crate
    template = re2.sub(r"\$(\d+)", r"\\\1", _str(repl).replace("\\", "\\\\"))
    return _regex(_str(pattern)).sub(template, _str(v))


def _match_regex(v: Any, pattern: Any) -> list[str]:
    return [m.group(0) for m in _regex(_str(pattern)).finditer(_str(v))]


def _mapper(v: Any, values: Any, choices: Any) -> Any:
    if not isinstance(values, list) or not isinstance(choices, list) or len(values) != len(choices):
        raise JexlError("bad mapper arguments")
    for i, candidate in enumerate(values):
        if _equal(v, candidate):
            return choices[i]
    raise JexlError("value not mapped")


def _th_mapper(v: Any, values: Any, choices: Any) -> Any:
    x = _num(v)
    if not isinstance(values, list) or not isinstance(choices, list) or len(values) != len(choices):
        raise JexlError("bad thMapper arguments")
    found = None
    for i, threshold in enumerate(values):
        if x >= _num(threshold):
            found = i
    if found is None:
        raise JexlError("below every threshold")
    return choices[found]


def _values(v: Any) -> list[Any]:
    if not isinstance(v, dict):
        raise JexlError("object expected")
    return list(v.values())


def _keys(v: Any) -> list[str]:
    if not isinstance(v, dict):
        raise JexlError("object expected")
    return list(v.keys())


def _arr_sum(v: Any) -> Any:
    if not isinstance(v, list):
        raise JexlError("array expected")
    return _tidy(math.fsum(_num(x) for x in v)) if v else 0


def _arr_avg(v: Any) -> Any:
    if not isinstance(v, list) or not v:
        raise JexlError("non-empty array expected")
    return _tidy(math.fsum(_num(x) for x in v) / len(v))


def _len(v: Any) -> int:
    if isinstance(v, (str, list, dict)):
        return len(v)
    raise JexlError("len of a scalar")


def _now(v: Any = 0) -> Any:
    return _tidy(time.time() + (_num(v) if v is not None else 0))


def _to_iso_string(v: Any) -> str:
    seconds = _num(v)
    try:
        moment = datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise JexlError("time out of range") from exc
    return moment.isoformat()


def _get_time(v: Any) -> Any:
    text = _str(v).strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return _tidy(moment.timestamp())


def _to_string(v: Any) -> str:
    return to_text(v)


TRANSFORMS: dict[str, Callable[..., Any]] = {
    "uppercase": lambda v: _str(v).upper(),
    "lowercase": lambda v: _str(v).lower(),
    "split": lambda v, sep: _str(v).split(_str(sep)) if sep != "" else list(_str(v)),
    "indexOf": _index_of,
    "len": _len,
    "trim": lambda v: _str(v).strip(),
    "substring": _substring,
    "includes": lambda v, x: (_str(x) in _str(v)) if isinstance(v, str) else any(_equal(i, x) for i in v),
    "isNaN": _is_nan,
    "parseInt": _parse_int,
    "parseFloat": _parse_float,
    "typeOf": _type_of,
    "toString": _to_string,
    "toJson": _to_json,
    "floor": lambda v: _tidy(math.floor(_num(v))),
    "ceil": lambda v: _tidy(math.ceil(_num(v))),
    "round": lambda v, *_: _round_half_away(_num(v)),
    "toFixed": _to_fixed,
    "log": _positive_log(math.log),
    "log10": _positive_log(math.log10),
    "log2": _positive_log(math.log2),
    "sqrt": _sqrt,
    "replaceStr": lambda v, old, new: _str(v).replace(_str(old), _str(new)),
    "replaceRegex": _replace_regex,
    "matchRegex": _match_regex,
    "mapper": _mapper,
    "nMapper": _mapper,
    "thMapper": _th_mapper,
    "values": _values,
    "keys": _keys,
    "arrSum": _arr_sum,
    "arrAvg": _arr_avg,
    "now": _now,
    "toIsoString": _to_iso_string,
    "getTime": _get_time,
}


# ---------------------------------------------------------------------------------- API


@dataclass(frozen=True)
class Expression:
    """A parsed expression; `tree` is None when the text does not parse (it evaluates to null)."""

    text: str
    tree: tuple | None

    def evaluate(self, context: dict[str, Any]) -> Any:
        """The value, or None for a missing value or any failure (Orion's fail-safe null)."""
        if self.tree is None:
            return None
        try:
            return _eval(self.tree, context, None)
        except (JexlError, RecursionError, TypeError, ValueError, OverflowError, MemoryError):
            return None


@lru_cache(maxsize=4096)
def compile_expression(text: str) -> Expression:
    """Parse once per distinct text (every notification of a subscription reuses the tree)."""
    if len(text) > MAX_TEXT:
        return Expression(text, None)
    try:
        return Expression(text, _Parser(_lex(text)).parse())
    except (JexlError, RecursionError):
        return Expression(text, None)


def evaluate(text: str, context: dict[str, Any]) -> Any:
    return compile_expression(text).evaluate(context)
