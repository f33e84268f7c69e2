"""Several processes on one database: leases (who drains a subscription) and throttling windows,
on every backend."""

from __future__ import annotations

from tests.storage_conformance.test_outbox_and_subscriptions import SUB, _sub

NOW = 1_800_000_000.0


async def test_a_free_lease_is_taken_and_refused_to_another_owner_until_it_expires(storage):
    assert await storage.claim_lease("sub:1", "A", "a1", NOW + 10, NOW)
    assert not await storage.claim_lease("sub:1", "B", "b1", NOW + 15, NOW + 5)
    assert await storage.claim_lease("sub:1", "B", "b2", NOW + 25, NOW + 10)  # A's expired at NOW + 10


async def test_the_owner_takes_its_lease_again_with_a_new_token(storage):
    assert await storage.claim_lease("sub:1", "A", "a1", NOW + 10, NOW)
    assert await storage.claim_lease("sub:1", "A", "a2", NOW + 20, NOW + 1)
    assert not await storage.renew_lease("sub:1", "a1", NOW + 30)  # the older claim is gone
    assert await storage.renew_lease("sub:1", "a2", NOW + 30)
    assert not await storage.claim_lease("sub:1", "B", "b1", NOW + 40, NOW + 25)  # renewed to NOW + 30


async def test_a_released_lease_is_free_and_a_stale_release_changes_nothing(storage):
    assert await storage.claim_lease("sub:1", "A", "a1", NOW + 10, NOW)
    await storage.release_lease("sub:1", "other-token")
    assert not await storage.claim_lease("sub:1", "B", "b1", NOW + 10, NOW)
    await storage.release_lease("sub:1", "a1")
    assert await storage.claim_lease("sub:1", "B", "b1", NOW + 10, NOW)


async def test_a_lost_lease_cannot_be_renewed(storage):
    assert await storage.claim_lease("sub:1", "A", "a1", NOW + 10, NOW)
    assert await storage.claim_lease("sub:1", "B", "b1", NOW + 30, NOW + 11)
    assert not await storage.renew_lease("sub:1", "a1", NOW + 40)
    await storage.release_lease("sub:1", "a1")
    assert not await storage.claim_lease("sub:1", "A", "a2", NOW + 40, NOW + 12)  # B still holds it


async def test_leases_are_independent_of_each_other(storage):
    assert await storage.claim_lease("sub:1", "A", "a1", NOW + 10, NOW)
    assert await storage.claim_lease("sub:2", "B", "b1", NOW + 10, NOW)


async def test_a_throttling_window_opens_once_per_period_whoever_asks(storage):
    await storage.save_subscription(_sub(throttling=5))
    assert await storage.open_throttle_window("t", SUB, NOW, 5)
    assert not await storage.open_throttle_window("t", SUB, NOW + 1, 5)
    assert not await storage.open_throttle_window("t", SUB, NOW + 4.9, 5)
    assert await storage.open_throttle_window("t", SUB, NOW + 5, 5)
    assert not await storage.open_throttle_window("t", SUB, NOW + 6, 5)


async def test_saving_a_subscription_again_keeps_its_throttling_window(storage):
    await storage.save_subscription(_sub(throttling=5))
    assert await storage.open_throttle_window("t", SUB, NOW, 5)
    await storage.save_subscription(_sub(throttling=5, description="renamed"))
    assert not await storage.open_throttle_window("t", SUB, NOW + 1, 5)


async def test_windows_are_per_subscription_and_tenant(storage):
    await storage.save_subscription(_sub(throttling=5))
    await storage.save_subscription(_sub(tenant="u", throttling=5))
    assert await storage.open_throttle_window("t", SUB, NOW, 5)
    assert await storage.open_throttle_window("u", SUB, NOW, 5)


async def test_a_closed_window_lets_the_next_change_through_unless_another_was_opened(storage):
    await storage.save_subscription(_sub(throttling=5))
    assert await storage.open_throttle_window("t", SUB, NOW, 5)
    await storage.close_throttle_window("t", SUB, NOW)
    assert await storage.open_throttle_window("t", SUB, NOW + 1, 5)
    await storage.close_throttle_window("t", SUB, NOW)  # not the window that is open now
    assert not await storage.open_throttle_window("t", SUB, NOW + 2, 5)
