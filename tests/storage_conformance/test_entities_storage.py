from __future__ import annotations

import asyncio

from broker.ngsi.context import ServicePathScope
from broker.ngsi.model import Attribute, Entity, Metadata
from broker.ngsi.selection import EntityFilter, Page


def _entity(i: int, type_: str = "T", sp: str = "/") -> Entity:
    return Entity(
        id=f"E{i}",
        type=type_,
        service_path=sp,
        attrs={"n": Attribute("Number", i, {"u": Metadata("Text", "cm")}, 1.0, 1.0)},
        cre_date=float(i),
        mod_date=float(i),
    )


async def test_inserted_entity_reads_back_identically(storage):
    assert await storage.insert_entity("t", _entity(1))
    found, total = await storage.query_entities("t", EntityFilter(ids=("E1",)), Page(), count=True)
    assert total == 1
    got = found[0]
    assert (got.id, got.type, got.service_path) == ("E1", "T", "/")
    assert got.attrs["n"].value == 1 and got.attrs["n"].metadata["u"].value == "cm"


async def test_second_insert_of_the_same_key_is_refused(storage):
    assert await storage.insert_entity("t", _entity(1))
    assert not await storage.insert_entity("t", _entity(1))
    assert await storage.insert_entity("t", _entity(1, type_="U"))  # another type is another entity
    assert await storage.insert_entity("other", _entity(1))  # another tenant too


async def test_replace_is_conditional_on_the_version_read(storage):
    await storage.insert_entity("t", _entity(1))
    (current,), _ = await storage.query_entities("t", EntityFilter(ids=("E1",)), Page())
    current.attrs["n"].value = 2
    assert await storage.replace_entity("t", current)
    current.attrs["n"].value = 3  # still holds the old version: a concurrent writer lost the race
    assert not await storage.replace_entity("t", current)
    (after,), _ = await storage.query_entities("t", EntityFilter(ids=("E1",)), Page())
    assert after.attrs["n"].value == 2


async def test_delete_is_conditional_on_the_version_read(storage):
    await storage.insert_entity("t", _entity(1))
    (current,), _ = await storage.query_entities("t", EntityFilter(ids=("E1",)), Page())
    stale = Entity(current.id, current.type, current.service_path, current.attrs, version=current.version + 7)
    assert not await storage.delete_entity("t", stale)
    assert await storage.delete_entity("t", current)
    assert (await storage.query_entities("t", EntityFilter(), Page(), count=True))[1] == 0


async def test_query_pages_in_creation_order_and_counts_in_the_store(storage):
    for i in range(30):
        await storage.insert_entity("t", _entity(i, type_="A" if i % 2 else "B"))
    page, total = await storage.query_entities("t", EntityFilter(types=("A",)), Page(limit=5, offset=5), count=True)
    assert total == 15
    assert [e.id for e in page] == ["E11", "E13", "E15", "E17", "E19"]


async def test_patterns_and_service_path_scopes(storage):
    await storage.insert_entity("t", _entity(1, sp="/a"))
    await storage.insert_entity("t", _entity(2, sp="/a/b"))
    await storage.insert_entity("t", _entity(3, sp="/ab"))
    await storage.insert_entity("t", _entity(4, sp="/a_b"))

    async def ids(flt: EntityFilter) -> list[str]:
        return [e.id for e in (await storage.query_entities("t", flt, Page(limit=100)))[0]]

    assert await ids(EntityFilter(scopes=(ServicePathScope("/a", True),))) == ["E1", "E2"]
    assert await ids(EntityFilter(scopes=(ServicePathScope("/a"),))) == ["E1"]
    assert await ids(EntityFilter(scopes=(ServicePathScope("/a_b"), ServicePathScope("/ab")))) == ["E3", "E4"]
    assert await ids(EntityFilter(id_pattern="^E[23]$")) == ["E2", "E3"]


async def test_types_are_summarised_per_tenant_and_scope(storage):
    await storage.insert_entity("t", _entity(1, type_="A"))
    e = _entity(2, type_="A")
    e.attrs["s"] = Attribute("Text", "x")
    await storage.insert_entity("t", e)
    await storage.insert_entity("t", _entity(3, type_="B", sp="/x"))
    summaries, total = await storage.list_types("t", (), Page())
    assert total == 2
    assert [(s.type, s.count, s.attrs) for s in summaries] == [
        ("A", 2, {"n": {"Number"}, "s": {"Text"}}),
        ("B", 1, {"n": {"Number"}}),
    ]
    only_x, _ = await storage.list_types("t", (ServicePathScope("/x"),), Page())
    assert [s.type for s in only_x] == ["B"]
    assert await storage.get_type("t", "C", ()) is None
    assert (await storage.get_type("other", "A", ())) is None


async def test_concurrent_writes_all_land(storage):
    results = await asyncio.gather(*(storage.insert_entity("t", _entity(i)) for i in range(200)))
    assert all(results)
    _, total = await storage.query_entities("t", EntityFilter(), Page(), count=True)
    assert total == 200


async def test_any_attrs_selects_entities_having_one_of_the_names(storage):
    """op/query's deprecated `attributes`: at least one of the names (OR), not all of them."""
    for i, names in enumerate((("a", "b"), ("b",), ("c",), ())):
        await storage.insert_entity(
            "t", Entity(f"E{i}", "T", attrs={n: Attribute("Number", i) for n in names}, cre_date=float(i))
        )
    found, total = await storage.query_entities("t", EntityFilter(any_attrs=("a", "b")), Page(), count=True)
    assert ([e.id for e in found], total) == (["E0", "E1"], 2)
    found, _ = await storage.query_entities("t", EntityFilter(any_attrs=("c",)), Page())
    assert [e.id for e in found] == ["E2"]


async def test_limit_zero_reads_nothing_but_counts_everything(storage):
    for i in range(3):
        await storage.insert_entity("t", _entity(i))
    assert await storage.query_entities("t", EntityFilter(), Page(limit=0), count=True) == ([], 3)
    types, total = await storage.list_types("t", (), Page(limit=0), details=True)
    assert (types, total) == ([], 1)
