"""`GET /admin/metrics` for a Prometheus scrape: the exposition format, parsed with
prometheus_client's own parser, with counters that move with the requests served."""

from __future__ import annotations

from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

SCRAPE = {"Accept": "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3,*/*;q=0.1"}
PLAIN = {"Accept": "text/plain;version=0.0.4,*/*;q=0.1"}


async def scrape(client: TestClient, headers: dict[str, str] = PLAIN) -> dict[tuple[str, str, str], float]:
    r = await client.get("/admin/metrics", headers=headers)
    assert r.status == 200
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples: dict[tuple[str, str, str], float] = {}
    for family in text_string_to_metric_families(await r.text()):
        for s in family.samples:
            samples[(s.name, s.labels["service"], s.labels["subservice"])] = s.value
    return samples


async def test_scrape_parses_and_counts_requests_per_service_and_subservice(client):
    before = await scrape(client)
    assert ("incomingTransactions_total", "default-service", "root-subserv") not in before  # nothing served yet
    headers = {"Fiware-Service": "city", "Fiware-ServicePath": "/parks"}
    assert (await client.get("/v2/entities", headers=headers)).status == 200
    assert (await client.get("/v2/entities/missing", headers=headers)).status == 404
    after = await scrape(client)
    assert after[("incomingTransactions_total", "city", "parks")] == 2
    assert after[("incomingTransactionErrors_total", "city", "parks")] == 1
    assert after[("incomingTransactionResponseSize_total", "city", "parks")] > 0
    assert after[("outgoingTransactions_total", "city", "parks")] == 0
    assert 0 < after[("serviceTime", "city", "parks")] < 10
    assert after[("incomingTransactions_total", "default-service", "root-subserv")] == 1  # the first scrape
    again = await scrape(client)
    assert again[("incomingTransactions_total", "default-service", "root-subserv")] == 2


async def test_openmetrics_scrape_gets_openmetrics_and_the_same_counters(client):
    await client.get("/v2/entities")
    r = await client.get("/admin/metrics", headers=SCRAPE)
    assert r.status == 200
    assert r.headers["Content-Type"].startswith("application/openmetrics-text")
    text = await r.text()
    assert text.rstrip().endswith("# EOF")
    assert 'incomingTransactions_total{service="default-service",subservice="root-subserv"} 1.0' in text


async def test_scrape_with_reset_starts_the_counters_again(client):
    await client.get("/v2/entities")
    first = await client.get("/admin/metrics?reset=true", headers=PLAIN)
    assert first.status == 200
    after = await scrape(client)
    assert after[("incomingTransactions_total", "default-service", "root-subserv")] == 1  # the reset scrape only


async def test_a_json_client_still_gets_orions_tree(client):
    for accept in ("application/json", "*/*", "application/json, text/plain"):
        r = await client.get("/admin/metrics", headers={"Accept": accept})
        assert r.status == 200
        assert r.headers["Content-Type"] == "application/json"
        assert list(await r.json()) == ["services", "sum"]
