"""`condition.expression.jexlExpression` in Orion's `csubs` layout, both ways (pure, no database)."""

from __future__ import annotations

from bson import ObjectId

from broker.ngsi.subscription import Condition, EntityPattern, HttpTarget, Notification, Subscription
from broker.storage.mongo.csubs import from_orion, to_csubs
from broker.storage.subscription_codec import from_doc, to_doc


def test_jexl_expression_is_written_in_orions_expression_field():
    sub = Subscription(
        id="5f0000000000000000000001",
        tenant="",
        service_path="/#",
        entities=(EntityPattern(id="R1", type="Room"),),
        condition=Condition(jexl="temp > 20"),
        notification=Notification(target=HttpTarget(url="http://x/n")),
    )
    fields = to_csubs(sub, now=0.0)
    assert fields["expression"]["jexlExpression"] == "temp > 20"
    assert from_doc(to_doc(sub)).condition.jexl == "temp > 20"


def test_an_orion_subscription_with_a_jexl_expression_keeps_it():
    stored = {
        "_id": ObjectId("5f0000000000000000000002"),
        "expiration": 9223372036854775807,
        "reference": "http://x/n",
        "servicePath": "/",
        "status": "active",
        "entities": [{"id": "R1", "isPattern": "false", "type": "Room", "isTypePattern": False}],
        "attrs": [],
        "conditions": [],
        "expression": {"q": "", "mq": "", "geometry": "", "coords": "", "georel": "", "jexlExpression": "a == 1"},
        "format": "normalized",
    }
    sub = from_orion(stored, "")
    assert sub.condition.jexl == "a == 1"
    assert from_doc(to_doc(sub)).condition.jexl == "a == 1"
