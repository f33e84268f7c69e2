"""The SQL compilation of q/mq selects exactly what the in-memory evaluator accepts.

Random entities (numbers, strings, booleans, nulls, arrays, objects, DateTimes, metadata) and
random statements built from the grammar run both ways; any difference is a bug in one of them.
Attribute names and values carry SQL metacharacters, so an injection would show up as a
difference or an error.
"""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from broker.ngsi.errors import NgsiError
from broker.ngsi.model import Attribute, Entity, Metadata
from broker.ngsi.query import matches, parse_mq, parse_q
from broker.ngsi.selection import EntityFilter

pytestmark = pytest.mark.slow  # processes, real outages or external tools: `make test`, not `make test-fast`

NAMES = ["a", "t%", "u_"]  # few names, so statements meet the attributes
STRINGS = ["red", "blue", "Red", "a_b", "50%", "o--k", "2020", "", "é"]
numbers = st.integers(0, 2)  # a small pool, so comparisons often sit exactly on a boundary
scalars = st.one_of(numbers, numbers, numbers, st.sampled_from(STRINGS), st.booleans(), st.none())
values = st.one_of(
    scalars,
    scalars,
    scalars,
    st.lists(scalars, max_size=3),
    st.dictionaries(st.sampled_from(["k", "m"]), scalars, max_size=2),
)


@st.composite
def entities(draw):
    out = []
    for i in range(draw(st.integers(3, 15))):
        attrs = {}
        for name in draw(st.lists(st.sampled_from(NAMES), unique=True, min_size=1, max_size=3)):
            if draw(st.booleans()) and name == "a":
                attrs[name] = Attribute("DateTime", float(draw(st.integers(1_500_000_000, 1_600_000_000))))
            else:
                v = draw(values)
                md = {"unit": Metadata("Text", draw(st.sampled_from(STRINGS)))} if draw(st.booleans()) else {}
                attrs[name] = Attribute("T", v, md)
        out.append(Entity(f"E{i}", "T", "/", attrs, cre_date=float(i), mod_date=float(i)))
    return out


ops = st.sampled_from(["==", "!=", ">", "<", ">=", "<=", "~=", ":"])
rhs = st.one_of(
    numbers.map(str),
    numbers.map(str),
    numbers.map(str),
    st.sampled_from(STRINGS[:-2]).map(lambda s: f"'{s}'" if s else "''"),
    st.sampled_from(
        ["red", "blue", "true", "false", "null", "1..3", "-2..2", "red,blue", "1,2,3", "2017-01-01", "r.*", "^b"]
    ),
)


@st.composite
def statements(draw, metadata: bool = False):
    """One q statement, or (metadata=True) one mq statement on the `unit` metadata."""
    kind = draw(st.integers(0, 5))
    name = draw(st.sampled_from(NAMES)) + (".unit" if metadata else "")
    if kind == 0:
        return ("" if metadata else draw(st.sampled_from(["", "!"]))) + name
    path = name + (".k" if kind == 1 and not metadata else "")
    return f"{path}{draw(ops)}{draw(rhs)}"


@st.composite
def filters(draw):
    mq = draw(st.booleans())
    return mq, ";".join(draw(st.lists(statements(metadata=mq), min_size=1, max_size=3)))


def _parse(text: str, mq: bool):
    try:
        return parse_mq(text) if mq else parse_q(text)
    except NgsiError:
        return None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=entities(), flt=filters())
def test_sql_and_memory_agree(storage_factory, data, flt):
    mq, text = flt
    query = _parse(text, mq)
    if query is None:
        return
    expected = sorted(e.id for e in data if matches(query, e))
    flt = EntityFilter(mq=query) if mq else EntityFilter(q=query)
    got = asyncio.run(storage_factory(data, flt))
    assert got == expected, text
