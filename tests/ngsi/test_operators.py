from __future__ import annotations

import pytest

from broker.ngsi.errors import NgsiError
from broker.ngsi.operators import SKIP, apply_operator, is_operator_value


@pytest.mark.parametrize(
    "op, current, expected",
    [
        ({"$inc": 3}, 10, 13),
        ({"$mul": 2}, 10, 20),
        ({"$min": 5}, 10, 5),
        ({"$max": 5}, 10, 10),
        ({"$push": 3}, [1, 2], [1, 2, 3]),
        ({"$push": {"$each": [3, 4]}}, [1], [1, 3, 4]),
        ({"$addToSet": 2}, [1, 2], [1, 2]),
        ({"$addToSet": 3}, [1, 2], [1, 2, 3]),
        ({"$pull": 2}, [1, 2, 2, 3], [1, 3]),
        ({"$pullAll": [1, 3]}, [1, 2, 3], [2]),
        ({"$set": {"b": 2}}, {"a": 1}, {"a": 1, "b": 2}),
        ({"$unset": {"a": 1}}, {"a": 1, "b": 2}, {"b": 2}),
    ],
)
def test_operator_applied_to_existing_value(op, current, expected):
    assert apply_operator(op, current) == expected


@pytest.mark.parametrize(
    "op, expected",
    [
        ({"$inc": 4}, 4),
        ({"$mul": 1000}, 0),
        ({"$min": 7}, 7),
        ({"$max": 7}, 7),
        ({"$push": 4}, [4]),
        ({"$addToSet": 4}, [4]),
        ({"$set": {"a": 1}}, {"a": 1}),
    ],
)
def test_operator_on_missing_attribute_uses_an_empty_reference(op, expected):
    assert apply_operator(op) == expected


@pytest.mark.parametrize("op", [{"$pull": 1}, {"$pullAll": [1]}, {"$unset": {"a": 1}}])
def test_removing_operators_on_missing_attribute_create_nothing(op):
    assert apply_operator(op) is SKIP


def test_inc_on_a_string_is_orions_database_error_text_as_a_400():
    with pytest.raises(NgsiError) as exc:
        apply_operator({"$inc": 1}, "foo")
    assert exc.value.status == 400
    assert exc.value.error == "BadRequest"
    assert (
        exc.value.description
        == "Database Error (update(): $inc - exception: Cannot apply $inc/$mul to a value of non-numeric type)"
    )


def test_set_with_a_non_object_operand_is_a_plain_update():
    assert apply_operator({"$set": 5}, {"a": 1}) == 5


def test_only_single_key_operator_objects_are_operators():
    assert is_operator_value({"$inc": 1})
    assert not is_operator_value({"$inc": 1, "x": 2})
    assert not is_operator_value({"inc": 1})
    assert not is_operator_value([1])
