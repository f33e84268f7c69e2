"""An update that stores the same value changes nothing, as Orion judges "the same".

Orion keeps every number as a double: `20.0` written as JSON and `20` written later as text/plain
are one value, so no `entityChange` notification fires. A boolean is never equal to a number.
"""

from __future__ import annotations

from broker.ngsi.changes import ChangeEvent, same_value
from broker.ngsi.model import Attribute, Entity, Metadata
from tests.receivers import drained


def _room(value: object, md: object = "x") -> Entity:
    return Entity("R1", "Room", "/", {"temp": Attribute("Number", value, {"unit": Metadata("Text", md)})})


def test_integral_float_and_int_are_the_same_value():
    assert same_value(20.0, 20)
    assert same_value([1, {"a": 2.0}], [1.0, {"a": 2}])
    assert not same_value(20.5, 20)


def test_booleans_never_equal_numbers_even_inside_compounds():
    assert not same_value(True, 1)
    assert not same_value(False, 0)
    assert not same_value([True], [1])
    assert not same_value({"on": 1}, {"on": True})


def test_float_to_equal_int_update_changes_no_attribute():
    event = ChangeEvent("", _room(20.0), _room(20), ("temp",))
    assert event.changed_attrs(True) == ()
    assert event.alteration == "entityUpdate"


def test_metadata_number_written_as_int_after_float_is_unchanged():
    event = ChangeEvent("", _room(1, md=3.0), _room(1, md=3), ("temp",))
    assert event.changed_attrs(True) == ()
    assert ChangeEvent("", _room(1, md=3), _room(1, md=True), ("temp",)).changed_attrs(True) == ("temp",)


async def test_text_plain_value_equal_to_stored_float_sends_no_notification(client, receiver):
    r = await client.post("/v2/entities", json={"id": "R1", "type": "Room", "temp": {"type": "Number", "value": 20.0}})
    assert r.status == 201
    r = await client.post(
        "/v2/subscriptions",
        json={
            "subject": {"entities": [{"id": "R1"}]},
            "notification": {"http": {"url": receiver.url}, "attrs": ["temp"], "onlyChangedAttrs": True},
        },
    )
    assert r.status == 201
    sub_path = r.headers["Location"]
    r = await client.put("/v2/entities/R1/attrs/temp/value", data="20", headers={"Content-Type": "text/plain"})
    assert r.status == 204
    await drained(client)
    assert receiver.requests == []
    assert "timesSent" not in (await (await client.get(sub_path)).json())["notification"]
    r = await client.put("/v2/entities/R1/attrs/temp/value", data="21", headers={"Content-Type": "text/plain"})
    assert r.status == 204
    await receiver.wait_for(1)
    assert receiver.requests[0].json()["data"][0]["temp"]["value"] == 21
