"""What one delivery attempt came to, and what it does to the subscription's counters, as Orion.

Orion (ngsiNotify/doNotify.cpp, cache/subCache.cpp) makes one attempt per notification and sorts
it in two: the receiver answered (any HTTP status, 4xx and 5xx included), recorded as `lastSuccess`
and `lastSuccessCode`, which resets `failsCounter`; or it could not be reached (no answer), recorded
as `lastFailure` with libcurl's text in `lastFailureReason` ("Couldn't connect to server", "Timeout
was reached", ...), which adds one to `failsCounter`. `timesSent` and `lastNotification` count each
notification once. Times are whole seconds (Orion keeps `time(NULL)`).

We add one thing: a notification that met a transient condition (no connection, reset, timeout, or
an answer 429, 502, 503, 504) is tried again later, in order, so that nothing is lost while a
receiver restarts. A retry never counts again; it changes the counters only when it gets through.
Every other answer settles the notification at once, and the next one goes out. A subscription
with `maxFailsLimit` keeps Orion's rule entirely (one attempt each, every failure counted): held
in order behind one retried notification, later ones could never reach the limit.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiohttp

from broker.ngsi.subscription import SubscriptionStatus

TRANSIENT_STATUSES = frozenset({429, 502, 503, 504})

# libcurl's texts (curl_easy_strerror), which Orion shows as `lastFailureReason`
COULDNT_CONNECT = "Couldn't connect to server"
COULDNT_RESOLVE = "Couldn't resolve host name"
TIMEOUT = "Timeout was reached"
GOT_NOTHING = "Server returned nothing (no headers, no data)"
RECV_ERROR = "Failure when receiving data from the peer"
SSL_CONNECT = "SSL connect error"
PEER_CERTIFICATE = "SSL peer certificate or SSH remote key was not OK"
BAD_URL = "URL using bad/illegal format or missing URL"


@dataclass(frozen=True)
class Outcome:
    """One attempt: `answered` when the receiver answered (HTTP) or the MQTT broker took the message."""

    answered: bool
    code: int | None = None  # the HTTP status; None for MQTT and for no answer
    reason: str | None = None  # why there was no answer (None for MQTT, as Orion)
    transient: bool = False  # worth another attempt, in order
    received: int = 0  # the answer's Content-Length (Orion's outgoingTransactionResponseSize)

    @classmethod
    def http_answer(cls, status: int, received: int = 0) -> Outcome:
        return cls(True, status, None, status in TRANSIENT_STATUSES, received)

    @property
    def through(self) -> bool:
        """The notification is settled by this attempt (not to be tried again)."""
        return not self.transient


def failure_of(exc: BaseException) -> Outcome:
    """No answer: the exception an HTTP attempt raised, as Orion's reason, and whether to retry."""
    if isinstance(exc, asyncio.TimeoutError):  # aiohttp's timeouts are TimeoutErrors too
        return Outcome(False, None, TIMEOUT, True)
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return Outcome(False, None, PEER_CERTIFICATE, False)
    if isinstance(exc, aiohttp.ClientSSLError):
        return Outcome(False, None, SSL_CONNECT, False)
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return Outcome(False, None, COULDNT_RESOLVE, True)
    if isinstance(exc, aiohttp.ClientConnectorError):  # refused, unreachable
        return Outcome(False, None, COULDNT_CONNECT, True)
    if isinstance(exc, aiohttp.ServerDisconnectedError):  # closed before an answer
        return Outcome(False, None, GOT_NOTHING, True)
    if isinstance(exc, aiohttp.ClientOSError):  # reset while sending or reading
        return Outcome(False, None, RECV_ERROR, True)
    if isinstance(exc, (aiohttp.InvalidURL, ValueError)):
        return Outcome(False, None, BAD_URL, False)
    if isinstance(exc, (aiohttp.ClientPayloadError, aiohttp.ClientResponseError)):  # a malformed answer
        return Outcome(False, None, RECV_ERROR, False)
    if isinstance(exc, OSError):
        return Outcome(False, None, COULDNT_CONNECT, True)
    return Outcome(False, None, RECV_ERROR, False)


def count_sent(status: SubscriptionStatus, now: float) -> None:
    """A notification goes out for the first time: `timesSent` and `lastNotification`, once."""
    status.times_sent += 1
    status.last_notification = float(int(now))


def count_outcome(status: SubscriptionStatus, outcome: Outcome, now: float, *, first: bool) -> bool:
    """Record an attempt's outcome; False when it changes nothing (a retry that failed again)."""
    if outcome.answered and (first or outcome.through):
        status.last_success = float(int(now))
        status.last_success_code = outcome.code
        status.fails_counter = 0
        return True
    if not outcome.answered and first:
        status.fails_counter += 1
        status.last_failure = float(int(now))
        status.last_failure_reason = outcome.reason
        return True
    return False


def over_limit(status: SubscriptionStatus, max_fails_limit: int | None) -> bool:
    """`maxFailsLimit` passed: Orion makes the subscription `inactive` at the failure after the limit."""
    return max_fails_limit is not None and max_fails_limit > 0 and status.fails_counter > max_fails_limit


def settles(outcome: Outcome, max_fails_limit: int | None) -> bool:
    """The notification is done with after this attempt: it got through, or the subscription has
    `maxFailsLimit` (the client chose Orion's rule: one attempt per notification, counted)."""
    return outcome.through or max_fails_limit is not None


def retry_at(
    created: float, attempts: int, now: float, *, retry_window: float, max_backoff: float, jitter: float
) -> float | None:
    """When a notification that met a transient condition is tried again: exponential backoff
    from 0.25 s, capped at `max_backoff`, times `jitter` (0.5 to 1.0, drawn by the caller); None
    once `retry_window` has passed since the change (it is given up)."""
    if now - created >= retry_window:
        return None
    return now + min(max_backoff, 0.25 * 2**attempts) * jitter
