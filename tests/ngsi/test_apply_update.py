from __future__ import annotations

from broker.core.entities import EntityRef, UpdateMode, apply_update
from broker.ngsi.model import Attribute, Entity, Metadata


def _entity() -> Entity:
    return Entity(
        id="E",
        type="T",
        attrs={"a": Attribute("Number", 1, {"unit": Metadata("Text", "cm")}, 10.0, 10.0)},
        cre_date=10.0,
        mod_date=10.0,
    )


def test_update_of_missing_attribute_only_is_unprocessable_and_changes_nothing():
    before = _entity()
    after, err = apply_update(before, {"x": Attribute("Number", 2)}, UpdateMode.UPDATE, 20.0, False, EntityRef("E"))
    assert after is before
    assert err is not None and err.error == "Unprocessable" and err.status == 422
    assert err.description == "do not exist: E - [ x ]"


def test_update_with_some_missing_attributes_is_partial_and_applies_the_rest():
    ref = EntityRef("E", "T")
    after, err = apply_update(
        _entity(), {"a": Attribute("Number", 5), "x": Attribute("Number", 2)}, UpdateMode.UPDATE, 20.0, False, ref
    )
    assert err is not None and err.error == "PartialUpdate"
    assert err.description == "do not exist: E/T - [ x ]"
    assert after.attrs["a"].value == 5
    assert "x" not in after.attrs


def test_strict_append_of_existing_attribute_names_it():
    _, err = apply_update(
        _entity(), {"a": Attribute("Number", 5)}, UpdateMode.APPEND_STRICT, 20.0, False, EntityRef("E")
    )
    assert err is not None and err.error == "Unprocessable"
    assert err.description == "one or more of the attributes in the request already exist: E - [ a ]"


def test_metadata_is_merged_unless_overridden():
    new = Attribute("Number", 2, {"accuracy": Metadata("Number", 0.1)})
    merged, _ = apply_update(_entity(), {"a": new}, UpdateMode.APPEND, 20.0, False, EntityRef("E"))
    assert set(merged.attrs["a"].metadata) == {"unit", "accuracy"}
    replaced, _ = apply_update(_entity(), {"a": new}, UpdateMode.APPEND, 20.0, True, EntityRef("E"))
    assert set(replaced.attrs["a"].metadata) == {"accuracy"}


def test_update_keeps_creation_date_and_moves_modification_date():
    after, _ = apply_update(_entity(), {"a": Attribute("Number", 2)}, UpdateMode.UPDATE, 20.0, False, EntityRef("E"))
    assert after.attrs["a"].cre_date == 10.0
    assert after.attrs["a"].mod_date == 20.0
    assert after.mod_date == 20.0 and after.cre_date == 10.0


def test_replace_drops_attributes_not_in_the_request():
    after, err = apply_update(_entity(), {"b": Attribute("Text", "x")}, UpdateMode.REPLACE, 20.0, False, EntityRef("E"))
    assert err is None
    assert list(after.attrs) == ["b"]


def test_apply_update_does_not_modify_its_input():
    before = _entity()
    apply_update(before, {"a": Attribute("Number", 9)}, UpdateMode.UPDATE, 20.0, False, EntityRef("E"))
    assert before.attrs["a"].value == 1


def test_same_value_update_keeps_the_attribute_modification_date_but_moves_the_entity_one():
    # Orion: an attribute's modDate moves only on an actual change; the entity's on every update
    same = {"a": Attribute("Number", 1.0, {"unit": Metadata("Text", "cm")})}
    after, err = apply_update(_entity(), same, UpdateMode.UPDATE, 20.0, False, EntityRef("E"))
    assert err is None
    assert after.attrs["a"].mod_date == 10.0
    assert after.mod_date == 20.0


def test_metadata_or_type_change_moves_the_attribute_modification_date():
    ref = EntityRef("E")
    md = {"a": Attribute("Number", 1, {"unit": Metadata("Text", "mm")})}
    assert apply_update(_entity(), md, UpdateMode.UPDATE, 20.0, False, ref)[0].attrs["a"].mod_date == 20.0
    typed = {"a": Attribute("Integer", 1, {"unit": Metadata("Text", "cm")})}
    assert apply_update(_entity(), typed, UpdateMode.UPDATE, 20.0, False, ref)[0].attrs["a"].mod_date == 20.0
    extra = {"a": Attribute("Number", 1, {"acc": Metadata("Number", 0.1)})}
    assert apply_update(_entity(), extra, UpdateMode.UPDATE, 20.0, False, ref)[0].attrs["a"].mod_date == 20.0


def test_forced_update_moves_the_modification_date_of_an_unchanged_attribute():
    same = {"a": Attribute("Number", 1, {"unit": Metadata("Text", "cm")})}
    after, _ = apply_update(_entity(), same, UpdateMode.UPDATE, 20.0, False, EntityRef("E"), forced=True)
    assert after.attrs["a"].mod_date == 20.0
