"""The delivery worker's counters, as the serving process reads them: since its last reset, and all
of them again when another worker process has taken over."""

from __future__ import annotations

from pathlib import Path

from broker.observability import relay
from broker.observability.recorder import ObservabilitySettings, Recorder
from broker.observability.statistics import StatSettings


def worker_counts(path: Path, pid: int, attempts: list[tuple[str, str, bool]]) -> None:
    counters = relay.DeliveryCounters()
    counters.state.pid = pid
    for tenant, service_path, ok in attempts:
        counters.notification(tenant, service_path, 10, ok, 0.5)
    relay.write(str(path), counters.document())


def test_the_broker_adds_the_workers_attempts_and_resets_from_where_they_stand(tmp_path: Path) -> None:
    path = tmp_path / "b.db.delivery-counters.json"
    recorder = Recorder(ObservabilitySettings(StatSettings(counters=True, notif_queue=True), delivery_file=str(path)))
    assert recorder.statistics_json()["counters"] == {}  # no file yet: nothing relayed
    worker_counts(path, 7, [("city", "/#", True), ("city", "/a", False)])
    stats = recorder.statistics_json()
    assert stats["counters"] == {"notificationsSent": 2}
    assert (stats["notifQueue"]["sentOk"], stats["notifQueue"]["sentError"]) == (1, 1)
    tree = recorder.metrics_json()
    assert tree["services"]["city"]["subservs"]["a"] == {
        "outgoingTransactionErrors": 1,
        "outgoingTransactionRequestSize": 10,
        "outgoingTransactions": 1,
    }
    recorder.reset_statistics()
    assert recorder.statistics_json()["counters"] == {}
    assert recorder.metrics_json()["sum"]["sum"]["outgoingTransactions"] == 2  # metrics have their own reset
    recorder.reset_metrics()
    assert recorder.metrics_json()["sum"]["sum"] == {}
    worker_counts(path, 8, [("city", "/", True)])  # a new worker process counts from zero
    assert recorder.statistics_json()["counters"] == {"notificationsSent": 1}
    assert recorder.metrics_json()["sum"]["sum"]["outgoingTransactions"] == 1


def test_a_broken_file_relays_nothing(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_bytes(b"{not json")
    assert relay.read(str(path)) is None
