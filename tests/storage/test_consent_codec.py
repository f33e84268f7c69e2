"""The consent document both backends store: its layout is the one already on disk, byte for byte."""

from __future__ import annotations

import orjson

from broker.ngsi.consent import Consent
from broker.storage.consent_codec import from_doc, to_doc

STORED = (
    b'{"id":"c1","subject":"alice","recipient":"svc","entityTypes":["Person"],"attrs":["a","b"],'
    b'"purpose":"care","operations":["read","write"],"createdAt":1.5,"expires":9.0,"withdrawnAt":null}'
)


def test_a_consent_is_stored_as_the_documents_already_on_disk():
    consent = Consent("c1", "alice", "svc", ("Person",), ("a", "b"), "care", ("read", "write"), 1.5, 9.0)
    assert orjson.dumps(to_doc(consent)) == STORED
    assert from_doc(orjson.loads(STORED)) == consent


def test_a_document_without_optional_fields_reads_as_every_attribute_never_expiring():
    doc = {k: v for k, v in orjson.loads(STORED).items() if k not in ("attrs", "expires", "withdrawnAt")}
    consent = from_doc(doc)
    assert consent.attrs is None and consent.expires is None and consent.withdrawn_at is None
    assert consent.status(1e12) == "active"
