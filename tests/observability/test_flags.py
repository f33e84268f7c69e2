"""The `-stat*` and `-disableMetrics` flags, from the command line or Orion's environment variables,
reach the application."""

from __future__ import annotations

from pathlib import Path

from broker.config import load_config
from broker.http.observe import OBSERVABILITY
from broker.runtime.app import make_app


def test_flags_default_off_and_metrics_on() -> None:
    config = load_config([], environ={})
    assert (config.statCounters, config.statTiming, config.statNotifQueue, config.disableMetrics) == (
        False,
        False,
        False,
        False,
    )


def test_flags_from_the_command_line_and_from_orions_variables(tmp_path: Path) -> None:
    config = load_config(
        ["-statCounters", "-disableMetrics", "-dbPath", str(tmp_path / "b.db")],
        environ={
            "ORION_STAT_TIMING": "true",
            "ORION_STAT_NOTIF_QUEUE": "1",
        },
    )
    assert (config.statCounters, config.statTiming, config.statNotifQueue, config.disableMetrics) == (
        True,
        True,
        True,
        True,
    )
    recorder = make_app(config)[OBSERVABILITY]
    assert recorder.statistics.settings.counters and recorder.statistics.settings.timing
    assert recorder.statistics.settings.notif_queue
    assert not recorder.metrics.enabled
    assert not recorder.multiservice  # without -multiservice every request is the default service's


def test_stat_sem_wait_from_the_command_line_or_orions_variable_turns_the_lock_timing_on(tmp_path: Path) -> None:
    for args, environ in ((["-statSemWait"], {}), ([], {"ORION_STAT_SEM_WAIT": "true"})):
        config = load_config([*args, "-dbPath", str(tmp_path / "b.db")], environ=environ)
        assert config.statSemWait
        recorder = make_app(config)[OBSERVABILITY]
        assert recorder.statistics.settings.sem_wait
    assert not load_config([], environ={}).statSemWait
