"""Property-based fuzzing of the running broker from its own OpenAPI document (schemathesis).

Invariants, for every operation: no 5xx on client input, every answer matches the document
(status, content type, body schema), and no request takes longer than `BOUND` seconds. The seed is
fixed so CI runs the same examples every time; `FUZZ_EXAMPLES=500` runs a longer search.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.process.broker_process import BrokerProcess

pytestmark = pytest.mark.slow  # processes, real outages or external tools: `make test`, not `make test-fast`

DOC = Path(__file__).resolve().parents[2] / "schemas" / "openapi.json"
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))
BOUND = 5.0  # seconds any one request may take

# what the answers must show; the document does not try to say which inputs Orion accepts
# (negative/positive data checks), since Orion's rules are more than a schema can hold
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

schema = schemathesis.openapi.from_path(str(DOC))


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    broker = BrokerProcess(tmp_path_factory.mktemp("fuzz") / "broker.db", args=["-logLevel", "WARN"])
    broker.start()
    try:
        yield f"http://127.0.0.1:{broker.port}"
    finally:
        broker.stop()


@schema.parametrize()
@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_5xx_and_every_answer_matches_the_document(case: schemathesis.Case, base_url: str) -> None:
    started = time.monotonic()
    response = case.call(base_url=base_url, timeout=BOUND * 2)
    elapsed = time.monotonic() - started
    assert response.status_code < 500, response.text
    assert elapsed < BOUND, f"{case.method} {case.formatted_path} took {elapsed:.1f} s"
    case.validate_response(response, checks=CHECKS)
