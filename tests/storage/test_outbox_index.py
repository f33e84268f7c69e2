"""The delivering process's in-memory index of the outbox (pure: no I/O)."""

from __future__ import annotations

from broker.storage.sqlite.outbox_index import OutboxIndex


def test_records_are_pending_per_subscription_in_id_order() -> None:
    index = OutboxIndex()
    index.add([(1, "a", 0.0), (2, "b", 0.0), (3, "a", 0.0)])
    assert (index.pending("a", 10), index.pending("b", 10), index.pending("c", 10)) == ([1, 3], [2], [])
    assert index.pending("a", 1) == [1] and index.tail == 3 and len(index) == 3


def test_rows_already_read_are_not_added_twice() -> None:
    index = OutboxIndex()
    index.add([(1, "a", 0.0), (2, "a", 0.0)])
    index.add([(2, "a", 0.0), (3, "a", 0.0)])  # two reads raced over the same tail
    assert index.pending("a", 10) == [1, 2, 3]


def test_a_subscription_is_due_when_its_oldest_record_is_and_heads_come_oldest_first() -> None:
    index = OutboxIndex()
    index.add([(1, "a", 50.0), (2, "b", 0.0), (3, "a", 0.0), (4, "c", 0.0)])
    assert index.due_subscriptions(10.0) == ["b", "c"]  # a's head waits for a retry: order is kept
    index.set_due(1, 5.0)
    assert index.due_subscriptions(10.0) == ["a", "b", "c"]
    index.set_due(99, 0.0)  # unknown: ignored
    assert len(index) == 4


def test_forgotten_records_and_subscriptions_leave_nothing_behind() -> None:
    index = OutboxIndex()
    index.add([(1, "a", 0.0), (2, "a", 0.0), (3, "b", 0.0), (4, "a", 0.0)])
    index.forget([1, 4, 42])  # the head, one out of order, one unknown
    assert index.pending("a", 10) == [2]
    index.forget([2])
    assert index.due_subscriptions(0.0) == ["b"] and index.pending("a", 10) == []
    index.forget_subscription("b")
    assert len(index) == 0 and index.due_subscriptions(0.0) == [] and index.tail == 4
