"""`GET /v2/subscriptions[/{id}]` bodies: what Orion shows and what it leaves out."""

from __future__ import annotations

from broker.ngsi.subscription import Condition, EntityPattern, HttpTarget, Notification, Subscription
from broker.subscriptions.render import render_subscription

NOW = 2_000_000_000.0


def _sub(**kw) -> Subscription:
    base = dict(
        id="5f0000000000000000000001",
        tenant="",
        service_path="/#",
        entities=(EntityPattern(id="R1", type="Room"),),
        condition=Condition(),
        notification=Notification(target=HttpTarget(url="http://x/n")),
    )
    base.update(kw)
    return Subscription(**base)


def test_empty_description_and_empty_custom_payload_are_left_out():
    target = HttpTarget(url="http://x/n", custom=True, payload="", payload_set=True)
    body = render_subscription(_sub(description="", notification=Notification(target=target)), now=NOW)
    assert "description" not in body
    assert body["notification"]["httpCustom"] == {"url": "http://x/n"}


def test_null_custom_payload_is_shown_as_null():
    target = HttpTarget(url="http://x/n", custom=True, payload=None, payload_set=True)
    body = render_subscription(_sub(notification=Notification(target=target)), now=NOW)
    assert body["notification"]["httpCustom"] == {"url": "http://x/n", "payload": None}


def test_jexl_expression_is_shown_in_the_condition():
    body = render_subscription(_sub(condition=Condition(q="a>1", jexl="a > 1 && b")), now=NOW)
    assert body["subject"]["condition"] == {
        "attrs": [],
        "expression": {"q": "a>1", "jexlExpression": "a > 1 && b"},
        "notifyOnMetadataChange": True,
    }


def test_a_subscription_past_its_expiry_is_shown_expired_whatever_its_status():
    for status in ("active", "inactive", "oneshot"):
        body = render_subscription(_sub(status=status, expires=NOW - 1), now=NOW)
        assert body["status"] == "expired"
        assert body["expires"] == "2033-05-18T03:33:19.000Z"
    assert render_subscription(_sub(status="inactive", expires=NOW + 1), now=NOW)["status"] == "inactive"
