"""What a notification request looks like: header set and order, URL and query string, bodies of
custom notifications (text, JSON templates, `ngsi` patching) and their JEXL macros."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer

from broker.config import load_config
from broker.core.entities import EntityService
from broker.http.settings import HttpSettings
from broker.ngsi.changes import ChangeEvent
from broker.ngsi.context import RequestContext
from broker.ngsi.model import Attribute, Entity, Metadata
from broker.ngsi.subscription import Condition, EntityPattern, HttpTarget, MqttTarget, Notification, Subscription
from broker.personal.guard import PersonalGuard
from broker.runtime.app import build_app, delivery_settings
from broker.storage.sqlite import SqliteStorage
from broker.subscriptions.dispatcher import Dispatcher
from broker.subscriptions.notifier import Notifier
from broker.subscriptions.payload import build, snapshot
from broker.version import ORION_API_VERSION
from tests.receivers import drained

ROOM = Entity(
    "R1",
    "Room",
    "/north",
    {
        "temp": Attribute("Number", 21.5, {"unit": Metadata("Text", "C")}),
        "name": Attribute("Text", "Sala"),
        "slots": Attribute("StructuredValue", {"s1": 0, "s2": 1, "s3": 1}),
        "none": Attribute("None", None),
    },
)


def _sub(target: HttpTarget | MqttTarget, tenant: str = "", **notification) -> Subscription:
    return Subscription(
        id="5f0000000000000000000001",
        tenant=tenant,
        service_path="/#",
        entities=(EntityPattern(id_pattern=".*"),),
        condition=Condition(),
        notification=Notification(target=target, **notification),
    )


def _snap(entity: Entity = ROOM, before: Entity | None = None, request_attrs: tuple[str, ...] | None = None) -> dict:
    attrs = tuple(entity.attrs) if request_attrs is None else request_attrs
    return snapshot(ChangeEvent("", before, entity, attrs, "corr-9"))


def _custom(**fields) -> HttpTarget:
    return HttpTarget(url=fields.pop("url", "http://127.0.0.1:9999/notify"), custom=True, **fields)


# ------------------------------------------------------------------------------ headers


def test_a_plain_notification_carries_exactly_orions_headers_in_order():
    out = build(_sub(HttpTarget(url="http://127.0.0.1:9999/notify")), _snap(), cbnotif=3)
    assert list(out.headers.items()) == [
        ("Host", "127.0.0.1:9999"),
        ("User-Agent", f"orion/{ORION_API_VERSION}"),
        ("Fiware-Servicepath", "/north"),
        ("Accept", "application/json"),
        ("Content-Length", str(len(out.body))),
        ("Content-Type", "application/json; charset=utf-8"),
        ("Fiware-Correlator", "corr-9; cbnotif=3"),
        ("Ngsiv2-AttrsFormat", "normalized"),
    ]


def test_a_tenant_adds_fiware_service_and_the_host_gets_its_default_port():
    out = build(_sub(HttpTarget(url="http://receiver.example/n"), tenant="city"), _snap())
    assert out.headers["Host"] == "receiver.example:80"
    assert list(out.headers)[2:4] == ["Fiware-Service", "Fiware-Servicepath"]
    assert out.headers["Fiware-Service"] == "city"


def test_text_and_json_payloads_say_custom_and_ngsi_keeps_the_format():
    text = build(_sub(_custom(payload="t=${temp}", payload_set=True)), _snap())
    json_ = build(_sub(_custom(json={"t": "${temp}"})), _snap())
    ngsi = build(_sub(_custom(ngsi={"x": {"value": 1}}), attrs_format="keyValues"), _snap())
    assert text.headers["Ngsiv2-AttrsFormat"] == "custom"
    assert text.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert json_.headers["Ngsiv2-AttrsFormat"] == "custom"
    assert json_.headers["Content-Type"] == "application/json; charset=utf-8"
    assert ngsi.headers["Ngsiv2-AttrsFormat"] == "keyValues"


def test_custom_headers_replace_standard_ones_in_place_and_come_after_in_key_order():
    target = _custom(headers={"X-Zeta": "z", "content-type": "text/plain", "Accept": "text/csv", "A-First": "${id}"})
    out = build(_sub(target), _snap())
    assert list(out.headers.items())[-4:] == [
        ("Fiware-Correlator", "corr-9; cbnotif=1"),
        ("Ngsiv2-AttrsFormat", "normalized"),
        ("A-First", "R1"),
        ("X-Zeta", "z"),
    ]
    assert out.headers["Content-Type"] == "text/plain"
    assert out.headers["Accept"] == "text/csv"
    assert list(out.headers).index("Accept") == 3


def test_correlator_format_and_length_cannot_be_overridden():
    target = _custom(headers={"Fiware-Correlator": "mine", "Ngsiv2-AttrsFormat": "other", "Content-Length": "1"})
    out = build(_sub(target), _snap())
    assert out.headers["Fiware-Correlator"] == "corr-9; cbnotif=1"
    assert out.headers["Ngsiv2-AttrsFormat"] == "normalized"
    assert out.headers["Content-Length"] == str(len(out.body))
    assert "fiware-correlator" not in {k for k in out.headers if k != "Fiware-Correlator"}


def test_a_header_that_comes_out_empty_is_not_sent():
    out = build(_sub(_custom(headers={"User-Agent": "", "X-Missing": "${nothere}", "Fiware-Servicepath": ""})), _snap())
    assert "User-Agent" not in out.headers
    assert "X-Missing" not in out.headers
    assert "Fiware-Servicepath" not in out.headers


def test_header_values_are_sent_percent_decoded():
    out = build(_sub(_custom(headers={"Authorization": "Basic dXNlcjpwdw%3D%3D"})), _snap())
    assert out.headers["Authorization"] == "Basic dXNlcjpwdw=="


def test_the_auth_token_of_the_triggering_request_is_propagated_and_a_macro():
    snap = _snap() | {"authToken": "tok-1"}
    out = build(_sub(_custom(payload="${authToken}/${service}/${servicePath}", payload_set=True), tenant="city"), snap)
    assert out.headers["X-Auth-Token"] == "tok-1"
    assert list(out.headers).index("X-Auth-Token") == list(out.headers).index("Fiware-Servicepath") + 1
    assert out.body == b"tok-1/city//north"


# ---------------------------------------------------------------------- URL and query string


def test_query_parameters_are_sorted_and_empty_ones_left_out():
    target = _custom(
        url="http://h:1/p/${id}", qs={"z": "${type}", "a": "${temp}", "empty": "${nothere}", "${nothere}": "x"}
    )
    out = build(_sub(target), _snap())
    assert out.url == "http://h:1/p/R1?a=21.5&z=Room"


def test_query_values_are_decoded_and_quoted_only_where_a_url_needs_it():
    target = _custom(url="http://h:1/p?fixed=1", qs={"q": "temp%3E20", "s": "two%20words", "list": "a,b:c"})
    out = build(_sub(target), _snap())
    assert out.url == "http://h:1/p?fixed=1&list=a,b:c&q=temp%3E20&s=two%20words"


# ------------------------------------------------------------------------------ bodies


def test_text_payload_is_decoded_and_renders_null_as_empty():
    target = _custom(payload="%7B%22t%22%3A${temp}%7D X:${nothere}:Y ${none}", payload_set=True)
    out = build(_sub(target), _snap())
    assert out.body == b'{"t":21.5} X::Y '


def test_numbers_are_rendered_as_orion_renders_them_in_text_and_json():
    entity = Entity("E1", "T", "/", {"A": Attribute("Number", 2.1), "B": Attribute("Number", -3.8)})
    text = build(_sub(_custom(payload="${A+B}", payload_set=True)), _snap(entity))
    patched = build(_sub(_custom(ngsi={"sum": {"value": "${A+B}", "type": "Calculated"}})), _snap(entity))
    assert text.body == b"-1.7"
    assert orjson.loads(patched.body)["data"][0]["sum"] == {"type": "Calculated", "value": -1.7, "metadata": {}}


def test_jexl_in_a_text_payload():
    target = _custom(payload="${name|uppercase} has ${(slots|values|arrSum)} of ${slots|keys|len}", payload_set=True)
    assert build(_sub(target), _snap()).body == b"SALA has 2 of 3"


def test_a_null_payload_sends_no_body_and_no_content_type():
    out = build(_sub(_custom(payload=None, payload_set=True)), _snap())
    assert out.body == b""
    assert "Content-Type" not in out.headers
    assert out.headers["Content-Length"] == "0"


def test_json_template_keeps_types_and_renders_missing_values_as_null():
    template = {
        "t": "${temp}",
        "s": "${slots}",
        "missing": "${nothere}",
        "inside": "X:${nothere}:Y",
        "text": "id ${id} at ${temp}",
        "calc": ["${temp * 2}", "${name|lowercase}", 7, None, True],
        "md": "${metadata.temp.unit}",
    }
    out = build(_sub(_custom(json=template)), _snap())
    assert orjson.loads(out.body) == {
        "t": 21.5,
        "s": {"s1": 0, "s2": 1, "s3": 1},
        "missing": None,
        "inside": "X:null:Y",
        "text": "id R1 at 21.5",
        "calc": [43, "sala", 7, None, True],
        "md": "C",
    }


def test_json_template_quotes_strings_that_would_break_the_document():
    entity = Entity("R1", "Room", "/", {"name": Attribute("Text", 'say "hi"\n')})
    out = build(_sub(_custom(json={"n": "<${name}>"})), _snap(entity))
    assert orjson.loads(out.body) == {"n": '<say "hi"\n>'}


def test_ngsi_patch_adds_attributes_with_metadata_and_inferred_types():
    template = {
        "occupied": {"value": "${slots|values|arrSum}", "type": "Calculated"},
        "label": {"value": "${name}!"},
        "flag": {"value": "${temp > 20}"},
        "temp": {"value": "${temp + 1}", "type": "Number", "metadata": {"src": {"value": "calc"}}},
    }
    out = build(_sub(_custom(ngsi=template), attrs=("temp", "occupied", "label", "flag")), _snap())
    assert orjson.loads(out.body)["data"] == [
        {
            "id": "R1",
            "type": "Room",
            "temp": {"type": "Number", "value": 22.5, "metadata": {"src": {"type": "Text", "value": "calc"}}},
            "occupied": {"type": "Calculated", "value": 2, "metadata": {}},
            "label": {"type": "Text", "value": "Sala!", "metadata": {}},
            "flag": {"type": "Boolean", "value": True, "metadata": {}},
        }
    ]


def test_ngsi_patch_is_selected_by_attrs_like_any_attribute():
    template = {
        "B1": {"value": "${nothere}", "type": "Calculated"},
        "B2": {"value": "X:${nothere}:Y", "type": "Calculated"},
    }
    out = build(_sub(_custom(ngsi=template), attrs=("B1", "B2")), _snap())
    assert orjson.loads(out.body)["data"] == [
        {
            "id": "R1",
            "type": "Room",
            "B1": {"type": "Calculated", "value": None, "metadata": {}},
            "B2": {"type": "Calculated", "value": "X:null:Y", "metadata": {}},
        }
    ]


def test_ngsi_patch_ids_and_types_are_text_and_an_empty_one_keeps_the_entitys():
    entity = Entity("R1", "Room", "/", {"n": Attribute("Number", 7), "e": Attribute("Text", "")})
    numeric = build(_sub(_custom(ngsi={"id": "${n}", "type": "T-${n}"})), _snap(entity))
    empty = build(_sub(_custom(ngsi={"id": "${e}", "type": "${nothere}"})), _snap(entity))
    assert {k: orjson.loads(numeric.body)["data"][0][k] for k in ("id", "type")} == {"id": "7", "type": "T-7"}
    assert {k: orjson.loads(empty.body)["data"][0][k] for k in ("id", "type")} == {"id": "R1", "type": "Room"}


def test_action_type_and_previous_value_mark_only_attributes_the_request_named():
    before = Entity("R1", "Room", "/north", dict(ROOM.attrs))
    after = Entity("R1", "Room", "/north", dict(ROOM.attrs) | {"temp": Attribute("Number", 30)})
    snap = _snap(after, before, request_attrs=("temp",))
    target = HttpTarget(url="http://h:1/")
    out = build(_sub(target, attrs=("temp", "name"), metadata=("actionType", "previousValue")), snap)
    data = orjson.loads(out.body)["data"][0]
    assert data["temp"]["metadata"] == {
        "previousValue": {"type": "Number", "value": 21.5},
        "actionType": {"type": "Text", "value": "update"},
    }
    assert data["name"]["metadata"] == {}
    only_previous = build(_sub(target, attrs=("temp",), metadata=("previousValue",)), snap)
    assert orjson.loads(only_previous.body)["data"][0]["temp"]["metadata"] == {
        "previousValue": {"type": "Number", "value": 21.5}
    }


def test_mqtt_custom_topic_and_payload_are_expressions():
    target = MqttTarget(
        url="mqtt://h:1883", topic="rooms/${id|lowercase}", custom=True, payload="${temp}", payload_set=True
    )
    out = build(_sub(target), _snap())
    assert out.topic == "rooms/r1"
    assert out.body == b"21.5"
    assert out.headers["Ngsiv2-AttrsFormat"] == "custom"


# ------------------------------------------------------------------------------ on the wire


class WireReceiver:
    """A raw HTTP/1.1 listener that keeps each request's header lines exactly as received."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, list[tuple[str, str]], bytes]] = []
        self.server: asyncio.Server | None = None

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")[:-2]
                headers = [tuple(h.split(": ", 1)) for h in lines[1:]]
                length = int(dict((k.lower(), v) for k, v in headers).get("content-length", "0"))
                body = await reader.readexactly(length)
                self.requests.append((lines[0], headers, body))  # type: ignore[arg-type]
                writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@pytest.fixture
async def wire(tmp_path: Path):
    storage = SqliteStorage(str(tmp_path / "w.db"))
    await storage.start()
    notifier = Notifier(storage, PersonalGuard(storage))
    dispatcher = Dispatcher(storage, notifier, max_backoff=0.2)
    await dispatcher.start()
    receiver = WireReceiver()
    await receiver.start()
    yield EntityService(storage, notifier.guard, changes=notifier), notifier, receiver
    await dispatcher.close()
    await receiver.close()
    await storage.close()


async def _wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.02)


async def test_on_the_wire_a_notification_has_orions_header_lines_and_nothing_else(wire):
    entities, notifier, receiver = wire
    url = f"http://127.0.0.1:{receiver.port}/notify"
    await notifier.save(_sub(HttpTarget(url=url), tenant="city", attrs=("temp",)))
    ctx = RequestContext(tenant="city", write_path="/north", correlator="c-1")
    await entities.create(ctx, Entity("R1", "Room", attrs={"temp": Attribute("Number", 21.0)}))
    await _wait_for(lambda: len(receiver.requests) == 1)
    line, headers, body = receiver.requests[0]
    assert line == "POST /notify HTTP/1.1"
    assert headers == [
        ("Host", f"127.0.0.1:{receiver.port}"),
        ("User-Agent", f"orion/{ORION_API_VERSION}"),
        ("Fiware-Service", "city"),
        ("Fiware-Servicepath", "/north"),
        ("Accept", "application/json"),
        ("Content-Length", str(len(body))),
        ("Content-Type", "application/json; charset=utf-8"),
        ("Fiware-Correlator", "c-1; cbnotif=1"),
        ("Ngsiv2-AttrsFormat", "normalized"),
    ]


async def test_on_the_wire_a_custom_notification_sends_method_query_headers_and_body(wire):
    entities, notifier, receiver = wire
    target = HttpTarget(
        url=f"http://127.0.0.1:{receiver.port}/rooms/${{id}}",
        custom=True,
        method="PUT",
        headers={"X-Temp": "${temp|toFixed(0)}", "User-Agent": ""},
        qs={"type": "${type}", "unit": "%C2%B0C"},
        payload=None,
        payload_set=True,
    )
    await notifier.save(_sub(target))
    await entities.create(
        RequestContext(correlator="c-2"), Entity("R1", "Room", attrs={"temp": Attribute("Number", 21.4)})
    )
    await _wait_for(lambda: len(receiver.requests) == 1)
    line, headers, body = receiver.requests[0]
    assert line == "PUT /rooms/R1?type=Room&unit=%C2%B0C HTTP/1.1"
    assert headers == [
        ("Host", f"127.0.0.1:{receiver.port}"),
        ("Fiware-Servicepath", "/"),
        ("Accept", "application/json"),
        ("Content-Length", "0"),
        ("Fiware-Correlator", "c-2; cbnotif=1"),
        ("Ngsiv2-AttrsFormat", "custom"),
        ("X-Temp", "21"),
    ]
    assert body == b""


async def test_x_auth_token_of_the_update_goes_with_its_notification(client):
    receiver = WireReceiver()
    await receiver.start()
    try:
        sub = {
            "subject": {"entities": [{"idPattern": ".*"}]},
            "notification": {
                "httpCustom": {"url": f"http://127.0.0.1:{receiver.port}/n", "json": {"t": "${authToken}"}}
            },
        }
        assert (await client.post("/v2/subscriptions", json=sub)).status == 201
        r = await client.post(
            "/v2/entities", json={"id": "R1", "type": "Room", "temp": {"value": 1}}, headers={"X-Auth-Token": "tok-7"}
        )
        assert r.status == 201
        await _wait_for(lambda: len(receiver.requests) == 1)
        _, headers, body = receiver.requests[0]
        assert ("X-Auth-Token", "tok-7") in headers
        assert orjson.loads(body) == {"t": "tok-7"}
        assert (await client.patch("/v2/entities/R1/attrs", json={"temp": {"value": 2}})).status == 204
        await _wait_for(lambda: len(receiver.requests) == 2)
        _, headers, body = receiver.requests[1]
        assert "X-Auth-Token" not in dict(headers)
        assert orjson.loads(body) == {"t": ""}
    finally:
        await receiver.close()


# ------------------------------------------------------------------------------ empty text payloads


def test_a_text_payload_that_comes_out_empty_is_refused_with_orions_reason():
    out = build(_sub(_custom(payload="${nothere}", payload_set=True)), _snap())
    assert out.body == b""
    assert out.refusal == "error"


def test_an_empty_text_payload_over_mqtt_is_still_published():
    target = MqttTarget(url="mqtt://127.0.0.1:1883", topic="t", custom=True, payload="${nothere}", payload_set=True)
    out = build(_sub(target), _snap())
    assert out.body == b""
    assert out.refusal is None


def test_an_empty_string_payload_is_no_template_and_sends_the_standard_notification():
    out = build(_sub(_custom(payload="", payload_set=True)), _snap())
    assert out.refusal is None
    assert out.headers["Content-Type"] == "application/json; charset=utf-8"
    assert out.headers["Ngsiv2-AttrsFormat"] == "normalized"
    body = orjson.loads(out.body)
    assert body["subscriptionId"] == "5f0000000000000000000001"
    assert body["data"][0]["id"] == "R1"


def test_a_text_payload_is_substituted_before_it_is_percent_decoded():
    entity = Entity("E1", "T", "/", {"A": Attribute("Text", "50%25")})
    out = build(_sub(_custom(payload="%24%7Bid%7D:${A}", payload_set=True)), _snap(entity))
    assert out.body == b"${id}:50%"


# ------------------------------------------------------------------------------ attribute selection


def _plain(**notification) -> Subscription:
    return _sub(HttpTarget(url="http://127.0.0.1:9999/notify"), **notification)


def test_a_star_in_notification_attrs_selects_every_attribute_and_the_built_ins_named():
    body = orjson.loads(build(_plain(attrs=("*", "alterationType", "dateCreated")), _snap()).body)
    entity = body["data"][0]
    assert set(entity) == {"id", "type", "temp", "name", "slots", "none", "alterationType", "dateCreated"}
    assert entity["alterationType"] == {"type": "Text", "value": "entityCreate", "metadata": {}}
    assert "dateModified" not in entity


def test_covered_with_a_star_adds_only_the_named_attributes_that_are_missing():
    out = build(_plain(attrs=("*", "missing"), covered=True, attrs_format="keyValues"), _snap())
    assert orjson.loads(out.body)["data"][0] == {
        "id": "R1",
        "type": "Room",
        "name": "Sala",
        "none": None,
        "slots": {"s1": 0, "s2": 1, "s3": 1},
        "temp": 21.5,
        "missing": None,
    }


def test_notification_attrs_keep_the_order_of_the_list_in_values_format():
    out = build(_plain(attrs=("temp", "missing", "name"), covered=True, attrs_format="values"), _snap())
    assert orjson.loads(out.body)["data"] == [[21.5, None, "Sala"]]


def test_an_ngsi_patch_is_sent_normalized_whatever_the_attrs_format():
    target = _custom(ngsi={"B": {"value": "${temp*2}", "type": "Calculated"}})
    out = build(_sub(target, attrs=("temp", "B"), attrs_format="keyValues"), _snap())
    assert out.headers["Ngsiv2-AttrsFormat"] == "keyValues"  # Orion names the subscription's format
    assert orjson.loads(out.body)["data"][0] == {
        "id": "R1",
        "type": "Room",
        "temp": {"type": "Number", "value": 21.5, "metadata": {"unit": {"type": "Text", "value": "C"}}},
        "B": {"type": "Calculated", "value": 43, "metadata": {}},
    }
    simplified = build(_sub(target, attrs=("B",), attrs_format="simplifiedKeyValues"), _snap())
    assert orjson.loads(simplified.body) == {"id": "R1", "type": "Room", "B": 43}


def test_with_custom_notifications_disabled_a_custom_target_is_sent_as_a_plain_one():
    target = _custom(
        url="http://127.0.0.1:9999/rooms/${id}",
        method="PUT",
        headers={"X-Id": "${id}"},
        qs={"t": "${type}"},
        payload="${name}",
        payload_set=True,
    )
    out = build(_sub(target, attrs_format="keyValues"), _snap(), custom=False)
    assert (out.method, out.url) == ("POST", "http://127.0.0.1:9999/rooms/${id}")
    assert "X-Id" not in out.headers
    assert out.headers["Ngsiv2-AttrsFormat"] == "keyValues"
    assert orjson.loads(out.body)["data"][0]["name"] == "Sala"
    mqtt = MqttTarget(url="mqtt://127.0.0.1:1883", topic="rooms/${id}", custom=True, payload="x", payload_set=True)
    out = build(_sub(mqtt), _snap(), custom=False)
    assert out.topic == "rooms/${id}"
    assert orjson.loads(out.body)["data"][0]["id"] == "R1"


async def test_disable_custom_notifications_reaches_the_delivery(tmp_path: Path, receiver):
    settings = delivery_settings(load_config(["-disableCustomNotifications"]))
    app = build_app(SqliteStorage(str(tmp_path / "d.db")), HttpSettings(), settings)
    async with TestClient(TestServer(app)) as client:
        sub = {
            "subject": {"entities": [{"id": "R1"}]},
            "notification": {"httpCustom": {"url": receiver.url, "method": "PUT", "payload": "${id}"}},
        }
        assert (await client.post("/v2/subscriptions", json=sub)).status == 201
        assert (await client.post("/v2/entities", json={"id": "R1", "type": "Room", "t": {"value": 1}})).status == 201
        await receiver.wait_for(1)
        await drained(client)
    request = receiver.requests[0]
    assert request.method == "POST"
    assert request.json()["data"][0]["id"] == "R1"


def test_jexl_sees_the_built_in_metadata_of_the_attributes_the_update_named():
    before = Entity("R1", "Room", "/north", {"temp": Attribute("Number", 20, {"unit": Metadata("Text", "C")})})
    after = Entity(
        "R1", "Room", "/north", {"temp": Attribute("Number", 23.5, {"unit": Metadata("Text", "C")}, 1.0, 2.5)}
    )
    template = {
        "delta": "${temp-metadata.temp.previousValue}",
        "action": "${metadata.temp.actionType}",
        "modified": "${metadata.temp.dateModified}",
        "unit": "${metadata.temp.unit}",
    }
    out = build(_sub(_custom(json=template)), _snap(after, before, ("temp",)))
    assert orjson.loads(out.body) == {
        "delta": 3.5,
        "action": "update",
        "modified": "1970-01-01T00:00:02.500Z",
        "unit": "C",
    }
    created = build(_sub(_custom(json=template)), _snap(after, None, ("temp",)))
    assert orjson.loads(created.body)["delta"] is None
    assert orjson.loads(created.body)["action"] == "append"


def test_a_custom_url_that_is_no_url_once_substituted_is_dropped():
    assert build(_sub(_custom(url="http://${nothere}/n")), _snap()).dropped == "malformed URL"
    assert build(_sub(_custom(url="${name}")), _snap()).dropped
    assert build(_sub(_custom(url="http://127.0.0.1:9999/${name}")), _snap()).dropped is None
    assert build(_sub(HttpTarget(url="http://127.0.0.1:9999/n")), _snap()).dropped is None


def test_a_text_template_with_an_unterminated_macro_is_dropped():
    assert build(_sub(_custom(payload="A is ${A", payload_set=True)), _snap()).dropped == "unterminated macro"
    assert build(_sub(_custom(headers={"X-A": "${A"})), _snap()).dropped
    mqtt = MqttTarget(url="mqtt://127.0.0.1:1883", topic="t/${id", custom=True)
    assert build(_sub(mqtt), _snap()).dropped
    json_template = build(_sub(_custom(json={"a": "${A"})), _snap())
    assert json_template.dropped is None
    assert orjson.loads(json_template.body) == {"a": "${A"}  # kept as written
