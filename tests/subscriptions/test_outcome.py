"""The pure rules of one delivery attempt: what is retried, and what it does to the counters."""

from __future__ import annotations

import aiohttp
import pytest

from broker.ngsi.subscription import SubscriptionStatus
from broker.subscriptions.outcome import (
    COULDNT_CONNECT,
    TIMEOUT,
    Outcome,
    count_outcome,
    count_sent,
    failure_of,
    over_limit,
    retry_at,
    settles,
)


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_transient_answers_are_retried(status):
    outcome = Outcome.http_answer(status)
    assert outcome.answered and outcome.transient and not outcome.through


@pytest.mark.parametrize("status", [200, 201, 204, 301, 400, 401, 404, 410, 500, 501])
def test_every_other_answer_settles_the_notification(status):
    outcome = Outcome.http_answer(status)
    assert outcome.answered and outcome.through and outcome.code == status


def test_no_connection_and_timeouts_are_retried_with_libcurls_texts():
    refused = aiohttp.ClientConnectorError(None, ConnectionRefusedError(111, "Connection refused"))  # type: ignore[arg-type]
    assert failure_of(refused) == Outcome(False, None, COULDNT_CONNECT, True)
    assert failure_of(TimeoutError()) == Outcome(False, None, TIMEOUT, True)
    assert failure_of(aiohttp.ServerDisconnectedError()).transient
    assert not failure_of(aiohttp.InvalidURL("http://")).transient


def test_first_attempt_without_answer_counts_one_failure_in_whole_seconds():
    status = SubscriptionStatus()
    count_sent(status, 1700000000.75)
    assert count_outcome(status, Outcome(False, None, COULDNT_CONNECT, True), 1700000001.5, first=True)
    assert status == SubscriptionStatus(
        times_sent=1,
        last_notification=1700000000.0,
        last_failure=1700000001.0,
        last_failure_reason=COULDNT_CONNECT,
        fails_counter=1,
    )


def test_retries_that_fail_again_change_nothing_and_one_that_gets_through_resets_the_failures():
    status = SubscriptionStatus()
    count_sent(status, 10.0)
    count_outcome(status, Outcome(False, None, COULDNT_CONNECT, True), 10.0, first=True)
    before = SubscriptionStatus(**vars(status))
    assert not count_outcome(status, Outcome(False, None, TIMEOUT, True), 11.0, first=False)
    assert not count_outcome(status, Outcome.http_answer(503), 12.0, first=False)
    assert status == before
    assert count_outcome(status, Outcome.http_answer(200), 13.0, first=False)
    assert (status.times_sent, status.fails_counter, status.last_success, status.last_success_code) == (1, 0, 13.0, 200)
    assert status.last_failure == 10.0 and status.last_failure_reason == COULDNT_CONNECT  # kept, as Orion


def test_an_error_answer_is_recorded_as_orion_does_as_the_last_success_code():
    status = SubscriptionStatus(fails_counter=2)
    count_sent(status, 5.0)
    count_outcome(status, Outcome.http_answer(500), 5.0, first=True)
    assert (status.last_success_code, status.fails_counter, status.last_failure) == (500, 0, None)


def test_the_subscription_goes_inactive_at_the_failure_after_the_limit():
    assert not over_limit(SubscriptionStatus(fails_counter=2), 2)
    assert over_limit(SubscriptionStatus(fails_counter=3), 2)
    assert not over_limit(SubscriptionStatus(fails_counter=99), None)


def test_a_transient_failure_settles_only_under_max_fails_limit():
    assert not settles(Outcome.http_answer(503), None)
    assert settles(Outcome.http_answer(503), 3)  # Orion's rule: one attempt each, counted
    assert settles(Outcome.http_answer(200), None)
    assert not settles(Outcome(False, None, COULDNT_CONNECT, True), None)


@pytest.mark.parametrize(("attempts", "delay"), [(0, 0.25), (1, 0.5), (3, 2.0), (5, 8.0), (6, 10.0), (30, 10.0)])
def test_retries_back_off_exponentially_up_to_the_cap(attempts, delay):
    due = retry_at(100.0, attempts, 150.0, retry_window=86400.0, max_backoff=10.0, jitter=1.0)
    assert due == pytest.approx(150.0 + delay)
    halved = retry_at(100.0, attempts, 150.0, retry_window=86400.0, max_backoff=10.0, jitter=0.5)
    assert halved == pytest.approx(150.0 + delay / 2)


def test_a_notification_older_than_the_retry_window_is_given_up():
    assert retry_at(100.0, 4, 159.9, retry_window=60.0, max_backoff=10.0, jitter=1.0) is not None
    assert retry_at(100.0, 4, 160.0, retry_window=60.0, max_backoff=10.0, jitter=1.0) is None
