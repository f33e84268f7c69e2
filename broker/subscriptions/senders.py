"""Senders: one notification out over HTTP or MQTT, and what the attempt came to (`outcome.Outcome`).

They only send: what to send (`payload.build`), whether it may be sent (`recheck`) and what the
answer does to the counters and the retry schedule (`outcome`, `dispatcher`) are decided elsewhere.
"""

from __future__ import annotations

import aiohttp
from yarl import URL

from broker.ngsi.subscription import MqttTarget, Subscription
from broker.subscriptions.mqtt import MqttPublisher
from broker.subscriptions.outcome import Outcome, failure_of
from broker.subscriptions.payload import Outgoing, host_header

REDIRECTS = frozenset((301, 302, 303, 307, 308))
MAX_REDIRECTS = 10


class HttpSender:
    """HTTP notifications through one client session, with `-httpTimeout` unless the subscription
    sets its own `timeout`. Redirects are followed, as Orion's libcurl (FOLLOWLOCATION) follows
    them: 307 and 308 with the same request, the others as a GET without the body; the last
    answer is the outcome. With `insecure` (`-insecureNotif`) an HTTPS peer's certificate is not
    verified, as Orion's flag does."""

    def __init__(self, timeout: float, *, insecure: bool = False) -> None:
        self.timeout = timeout  # seconds
        self.insecure = insecure
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=False) if self.insecure else None,
            timeout=aiohttp.ClientTimeout(total=self.timeout),
            # the headers are exactly the ones payload.build writes (Orion sends no Accept-Encoding)
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def send(self, sub: Subscription, out: Outgoing) -> Outcome:
        assert self._session is not None, "HttpSender.start() first"
        if out.refusal is not None:  # nothing goes out; a failure that another attempt cannot mend
            return Outcome(False, None, out.refusal, False)
        timeout = sub.notification.target.timeout
        method, url, body, headers = out.method, out.url, out.body, out.headers
        try:
            for _ in range(MAX_REDIRECTS + 1):
                async with self._session.request(
                    method,
                    url,
                    data=body,
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=timeout / 1000) if timeout else None,
                    allow_redirects=False,
                ) as resp:
                    await resp.read()
                    location = resp.headers.get("Location")
                    if resp.status not in REDIRECTS or not location:
                        return Outcome.http_answer(resp.status, resp.content_length or 0)
                url = str(resp.url.join(URL(location)))
                headers = {**headers, "Host": host_header(url)}
                if resp.status not in (307, 308):
                    # Orion names its method with CURLOPT_CUSTOMREQUEST, so libcurl keeps the method
                    # on a 301/302/303 and drops the body
                    body = b""
                    headers = {k: v for k, v in headers.items() if k not in ("Content-Length", "Content-Type")}
            return Outcome.http_answer(resp.status, resp.content_length or 0)
        except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as exc:
            return failure_of(exc)


class MqttSender:
    """MQTT notifications; without a publisher (none configured) nothing can be sent."""

    def __init__(self, publisher: MqttPublisher | None) -> None:
        self.publisher = publisher

    async def send(self, target: MqttTarget, out: Outgoing) -> Outcome:
        if self.publisher is None:
            return Outcome(False, None, None, False)
        try:
            await self.publisher.publish(target, out)
        except Exception:  # the MQTT broker is out of reach: Orion records no reason for MQTT
            return Outcome(False, None, None, True)
        return Outcome(True)

    async def close(self) -> None:
        if self.publisher is not None:
            await self.publisher.close()


class Senders:
    """The sender for each subscription's target."""

    def __init__(self, timeout: float, mqtt: MqttPublisher | None, *, insecure: bool = False) -> None:
        self.http = HttpSender(timeout, insecure=insecure)
        self.mqtt = MqttSender(mqtt)

    async def start(self) -> None:
        await self.http.start()

    async def close(self) -> None:
        await self.http.close()
        await self.mqtt.close()

    async def send(self, sub: Subscription, out: Outgoing) -> Outcome:
        target = sub.notification.target
        if isinstance(target, MqttTarget):
            return await self.mqtt.send(target, out)
        return await self.http.send(sub, out)
