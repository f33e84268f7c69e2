from __future__ import annotations

from broker.ngsi.model import Attribute, Entity, Metadata
from broker.ngsi.render import Projection, render_entity, render_number


def test_integral_floats_render_as_integers_and_others_with_at_most_nine_decimals():
    assert render_number(2.0) == 2 and isinstance(render_number(2.0), int)
    assert render_number(1 / 3) == 0.333333333
    assert render_number(21.7) == 21.7


def _entity() -> Entity:
    return Entity(
        id="E",
        type="T",
        service_path="/a",
        attrs={
            "t": Attribute("DateTime", 1497684084.238, {"m": Metadata("Number", 3.0)}, 5.0, 6.0),
            "n": Attribute("Number", 1.5),
        },
        cre_date=5.0,
        mod_date=6.0,
    )


def test_normalized_rendering_has_metadata_and_iso_dates():
    out = render_entity(_entity())
    assert out == {
        "id": "E",
        "type": "T",
        "t": {
            "type": "DateTime",
            "value": "2017-06-17T07:21:24.238Z",
            "metadata": {"m": {"type": "Number", "value": 3}},
        },
        "n": {"type": "Number", "value": 1.5, "metadata": {}},
    }


def test_builtins_only_when_asked_for():
    plain = render_entity(_entity(), "keyValues")
    assert "dateCreated" not in plain
    asked = render_entity(_entity(), "keyValues", Projection.parse("dateCreated,*"))
    assert asked["dateCreated"] == "1970-01-01T00:00:05.000Z"
    assert asked["n"] == 1.5
    only = render_entity(_entity(), "keyValues", Projection.parse("dateModified,servicePath"))
    assert only == {"id": "E", "type": "T", "dateModified": "1970-01-01T00:00:06.000Z", "servicePath": "/a"}


def test_values_format_follows_the_attrs_order():
    assert render_entity(_entity(), "values", Projection.parse("n,t")) == [1.5, "2017-06-17T07:21:24.238Z"]


def test_metadata_builtins_when_asked_for():
    out = render_entity(_entity(), "normalized", md=Projection.parse("dateModified"))
    assert out["t"]["metadata"] == {"dateModified": {"type": "DateTime", "value": "1970-01-01T00:00:06.000Z"}}


def test_numbers_render_as_orion_double2string():
    """Orion's case 2176 one_to_nine_decimals: within 1e-9 of the integer part -> that integer."""
    cases = {
        42.9: 42.9,
        42.99999999: 42.99999999,
        42.999999999: 42.999999999,
        42.9999999999: 43,
        42.1: 42.1,
        42.00000001: 42.00000001,
        42.000000001: 42,
        42.0000000001: 42,
        -42.000000001: -42,
        -2.5: -2.5,
        1e-12: 0,
        0.1 + 0.2: 0.3,
    }
    for given, shown in cases.items():
        got = render_number(given)
        assert got == shown and type(got) is type(shown), (given, got)
