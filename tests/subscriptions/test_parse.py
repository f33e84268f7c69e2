"""Subscription validation with Orion's texts (src/lib/jsonParseV2/parseSubscription.cpp and friends)."""

from __future__ import annotations

import pytest

from broker.ngsi.errors import NgsiError
from broker.subscriptions.parse import apply_patch, parse_subscription

OK_SUBJECT = {"entities": [{"idPattern": ".*"}]}
OK_NOTIFICATION = {"http": {"url": "http://localhost:1028/notify"}}


def parse(body):
    return parse_subscription(body, tenant="", service_path="/#", now=0.0, new_id="5f" + "0" * 22)


def with_notification(**kw):
    return {"subject": OK_SUBJECT, "notification": {**OK_NOTIFICATION, **kw}}


@pytest.mark.parametrize(
    "body, description",
    [
        ({}, "empty payload"),
        ({"notification": OK_NOTIFICATION}, "no subject for subscription specified"),
        ({"subject": OK_SUBJECT}, "no notification for subscription specified"),
        ({"description": 3, "subject": OK_SUBJECT, "notification": OK_NOTIFICATION}, "description is not a string"),
        (
            {"description": "a(b", "subject": OK_SUBJECT, "notification": OK_NOTIFICATION},
            "forbidden characters in description",
        ),
        (
            {"description": "x" * 1025, "subject": OK_SUBJECT, "notification": OK_NOTIFICATION},
            "max description length exceeded",
        ),
        ({"subject": [], "notification": OK_NOTIFICATION}, "subject is not an object"),
        ({"subject": {}, "notification": OK_NOTIFICATION}, "no subject entities specified"),
        ({"subject": {"entities": {}}, "notification": OK_NOTIFICATION}, "/entities/ is not an array"),
        ({"subject": {"entities": []}, "notification": OK_NOTIFICATION}, "subject entities is empty"),
        (
            {"subject": {"entities": [{"type": "T"}]}, "notification": OK_NOTIFICATION},
            "/entities/ vector item does not have /id/ nor /idPattern/",
        ),
        (
            {"subject": {"entities": [{"id": "a", "idPattern": "b"}]}, "notification": OK_NOTIFICATION},
            "/entities/ vector item has both /id/ and /idPattern/",
        ),
        (
            {"subject": {"entities": [{"idPattern": "("}]}, "notification": OK_NOTIFICATION},
            "Invalid regex for entity idPattern",
        ),
        ({"subject": {**OK_SUBJECT, "condition": {}}, "notification": OK_NOTIFICATION}, "condition is empty"),
        (
            {"subject": {**OK_SUBJECT, "condition": {"attrs": "a"}}, "notification": OK_NOTIFICATION},
            "the field /attrs/ must be a JSON array",
        ),
        (
            {
                "subject": {**OK_SUBJECT, "condition": {"alterationTypes": ["entityMove"]}},
                "notification": OK_NOTIFICATION,
            },
            "unknown subscription alterationType: entityMove",
        ),
        (
            {"subject": {**OK_SUBJECT, "condition": {"expression": {"q": ""}}}, "notification": OK_NOTIFICATION},
            "q is empty",
        ),
        (
            {"subject": {**OK_SUBJECT, "condition": {"notifyOnMetadataChange": 1}}, "notification": OK_NOTIFICATION},
            "notifyOnMetadataChange is not a bool",
        ),
        ({"subject": OK_SUBJECT, "notification": {}}, "http, httpCustom, mqtt or mqttCustom is missing"),
        (
            {"subject": OK_SUBJECT, "notification": {**OK_NOTIFICATION, "mqtt": {}}},
            "only one of http, httpCustom, mqtt or mqttCustom is allowed",
        ),
        ({"subject": OK_SUBJECT, "notification": {"http": {}}}, "url http notification is missing"),
        ({"subject": OK_SUBJECT, "notification": {"http": {"url": "ftp://x"}}}, "Invalid URL parsing notification url"),
        (
            {"subject": OK_SUBJECT, "notification": {"http": {"url": "mqtt://x:1883"}}},
            "mqtt URL cannot be used in http notifications",
        ),
        (
            {"subject": OK_SUBJECT, "notification": {"httpCustom": {"url": "http://x", "method": "FETCH"}}},
            "unknown method httpCustom notification",
        ),
        (
            {"subject": OK_SUBJECT, "notification": {"httpCustom": {"url": "http://x", "payload": "a", "json": {}}}},
            "only one of payload, json or ngsi fields accepted at the same time in httpCustom or mqttCustom",
        ),
        (
            {"subject": OK_SUBJECT, "notification": {"httpCustom": {"url": "http://x", "headers": {}}}},
            "notification httpCustom headers is empty",
        ),
        (
            {"subject": OK_SUBJECT, "notification": {"mqtt": {"url": "http://x", "topic": "t"}}},
            "http or https URL cannot be used in mqtt notifications",
        ),
        (
            {"subject": OK_SUBJECT, "notification": {"mqtt": {"url": "mqtt://x:1883/p", "topic": "t"}}},
            "path cannot be used in mqtt url, use topic instead",
        ),
        (
            {"subject": OK_SUBJECT, "notification": {"mqtt": {"url": "mqtt://x:1883", "topic": "a/#"}}},
            "+ and # are not allowed in mqtt field /topic/",
        ),
        (
            {"subject": OK_SUBJECT, "notification": {"mqtt": {"url": "mqtt://x:1883", "topic": "t", "qos": 3}}},
            "mqtt qos field must be an integer in the 0 to 2 range",
        ),
        (
            {"subject": OK_SUBJECT, "notification": {"mqtt": {"url": "mqtt://x:1883", "topic": "t", "user": "u"}}},
            "you must use user and passwd fields simultaneously",
        ),
        (with_notification(attrs=["a"], exceptAttrs=["b"]), "http notification has attrs and exceptAttrs"),
        (with_notification(exceptAttrs=[]), "http notification has exceptAttrs is empty"),
        (with_notification(covered=True), "covered true cannot be used if notification attributes list is empty"),
        (
            with_notification(attrsFormat="pretty"),
            "invalid attrsFormat, accepted values: legacy, normalized, keyValues, values",
        ),
        (with_notification(maxFailsLimit=0), "maxFailsLimit must be greater than zero"),
        (with_notification(onlyChangedAttrs="yes"), "onlyChangedAttrs is not a bool"),
        ({"subject": OK_SUBJECT, "notification": OK_NOTIFICATION, "expires": 5}, "expires is not a string"),
        ({"subject": OK_SUBJECT, "notification": OK_NOTIFICATION, "expires": "soon"}, "expires has an invalid format"),
        (
            {"subject": OK_SUBJECT, "notification": OK_NOTIFICATION, "status": "paused"},
            "status is not valid: it has to be either active or inactive",
        ),
        ({"subject": OK_SUBJECT, "notification": OK_NOTIFICATION, "throttling": "5"}, "throttling is not an int"),
    ],
)
def test_invalid_subscriptions_get_orions_description(body, description):
    with pytest.raises(NgsiError) as exc:
        parse(body)
    assert (exc.value.status, exc.value.error, exc.value.description) == (400, "BadRequest", description)


def test_non_object_body_is_a_parse_error():
    with pytest.raises(NgsiError) as exc:
        parse([])
    assert exc.value.error == "ParseError"


def test_unknown_fields_are_ignored_as_orion_does():
    sub = parse({"subject": OK_SUBJECT, "notification": OK_NOTIFICATION, "foo": 1})
    assert sub.status == "active" and sub.expires is None and sub.throttling is None


def test_empty_expires_means_permanent_and_patch_replaces_fields():
    sub = parse({"subject": OK_SUBJECT, "notification": OK_NOTIFICATION, "expires": "2030-01-01T00:00:00Z"})
    assert sub.expires == 1893456000.0
    patched = apply_patch(sub, {"expires": "", "status": "inactive"}, now=0.0)
    assert patched.expires is None and patched.status == "inactive"
    assert patched.notification == sub.notification


def test_entity_type_without_id_is_refused_but_type_with_pattern_is_fine():
    sub = parse(
        {
            "subject": {"entities": [{"idPattern": ".*", "type": "Room"}, {"idPattern": ".*", "type": "Room"}]},
            "notification": OK_NOTIFICATION,
        }
    )
    assert len(sub.entities) == 1  # repeats are dropped


def _http_url(url: str) -> dict:
    return {"subject": OK_SUBJECT, "notification": {"http": {"url": url}}}


@pytest.mark.parametrize(
    "url",
    ["http://local host/n", "http://[::1/n", "http://localhost:0/n", "http://loc<al/n".replace("<", "\t"), "http:///n"],
)
def test_a_url_without_a_usable_host_or_port_is_refused_not_a_500(url):
    with pytest.raises(NgsiError) as exc:
        parse(_http_url(url))
    assert (exc.value.status, exc.value.description) == (400, "Invalid URL parsing notification url")


@pytest.mark.parametrize(
    "url", ["http://my_service:8080/n", "https://[::1]:1026/n", "http://u:p@host.example/n", "http://10.0.0.1/"]
)
def test_hosts_real_deployments_use_are_accepted(url):
    assert parse(_http_url(url)).notification.target.url == url


@pytest.mark.parametrize(
    "expires, epoch",
    [
        ("2030-01-01T00:00:00Z", 1893456000.0),
        ("2030-01-01T00:00:00", 1893456000.0),  # no zone: UTC
        ("2030-01-01T02:00:00+02:00", 1893456000.0),
        ("2030-01-01", 1893456000.0),  # date only: midnight UTC
        ("2030-01-01T00:00:00.999Z", 1893456000.0),  # Orion keeps whole seconds
        ("2030-01-01T00:00:00.123456789012Z", 1893456000.0),  # any resolution
        ("2030-01-01T00:00:00." + "1" * 5000 + "Z", 1893456000.0),  # and no int() blow-up on a long one
        ("20300101T000000Z".replace("20300101", "2030-01-01"), 1893456000.0),  # compact time
    ],
)
def test_expires_formats_orion_accepts(expires, epoch):
    body = {"subject": OK_SUBJECT, "notification": OK_NOTIFICATION, "expires": expires}
    assert parse(body).expires == epoch


def test_repeated_attributes_are_kept_once_as_orion_does():
    body = {
        "subject": {**OK_SUBJECT, "condition": {"attrs": ["a", "b", "a"]}},
        "notification": {**OK_NOTIFICATION, "attrs": ["x", "x", "y"]},
    }
    sub = parse(body)
    assert sub.condition.attrs == ("a", "b") and sub.notification.attrs == ("x", "y")


def test_jexl_expression_is_kept_with_the_condition():
    body = {
        "subject": {**OK_SUBJECT, "condition": {"expression": {"jexlExpression": "temp > 20 && hum < 80"}}},
        "notification": OK_NOTIFICATION,
    }
    assert parse(body).condition.jexl == "temp > 20 && hum < 80"


def _ngsi(attr: dict) -> dict:
    return {"subject": OK_SUBJECT, "notification": {"httpCustom": {"url": "http://x", "ngsi": {"A": attr}}}}


@pytest.mark.parametrize(
    "body, description",
    [
        (
            {
                "subject": {**OK_SUBJECT, "condition": {"expression": {"jexlExpression": 3}}},
                "notification": OK_NOTIFICATION,
            },
            "jexlExpression is not a string",
        ),
        (
            {
                "subject": {**OK_SUBJECT, "condition": {"expression": {"jexlExpression": ""}}},
                "notification": OK_NOTIFICATION,
            },
            "jexlExpression is empty",
        ),
        (
            _ngsi({"value": "${a}", "metadata": {"evalPriority": {"value": "high"}}}),
            "evalPriority metadata must be a number",
        ),
        (
            _ngsi({"value": "${a}", "metadata": {"evalPriority": {"value": 0}}}),
            "evalPriority metadata minimum priority is 1",
        ),
        (
            _ngsi({"value": "${a}", "metadata": {"evalPriority": {"value": 100001}}}),
            "evalPriority metadata maximum priority is 100000",
        ),
        (
            _ngsi({"value": "${a}", "metadata": {"unit": {"value": "C"}}}),
            "only evalPriority metadata is allowed in ngsi payload in custom notifications",
        ),
    ],
)
def test_expression_and_custom_ngsi_errors(body, description):
    with pytest.raises(NgsiError) as exc:
        parse(body)
    assert (exc.value.status, exc.value.error, exc.value.description) == (400, "BadRequest", description)


def test_eval_priority_in_range_is_accepted():
    sub = parse(_ngsi({"value": "${a}", "type": "Number", "metadata": {"evalPriority": {"value": 2}}}))
    assert sub.notification.target.ngsi == {
        "A": {"value": "${a}", "type": "Number", "metadata": {"evalPriority": {"value": 2}}}
    }
