"""Every import in the broker points down the layers of DESIGN.md (see tests/layers.py).

runtime > http > core > (subscriptions, registrations) > personal policy > storage > leaves
(config, logs, version, observability) > ngsi, the vocabulary, which imports nothing else of the
broker. Only the runtime names a storage backend.
"""

from __future__ import annotations

from tests.layers import LAYERS, all_imports, component_of, cycles, modules, violation

# Imports allowed to break the layering while code moves (source module, target module): empty,
# and to stay so; the test below fails on an entry that no longer breaks anything.
ALLOWED: frozenset[tuple[str, str]] = frozenset()


def test_every_module_sits_in_a_layer() -> None:
    assert [m for m in modules() if component_of(m) is None] == []


def test_no_import_points_up_or_sideways() -> None:
    found = [
        f"{imp.source}:{imp.line} -> {imp.target}: {why}"
        for imp in all_imports()
        if (why := violation(imp)) and (imp.source, imp.target) not in ALLOWED
    ]
    assert found == []


def test_the_allow_list_names_only_imports_that_still_break_the_layering() -> None:
    still = {(imp.source, imp.target) for imp in all_imports() if violation(imp)}
    assert sorted(ALLOWED - still) == []


def test_no_two_modules_import_each_other() -> None:
    assert cycles() == []


def test_the_check_catches_an_upward_import() -> None:
    from tests.layers import Import

    assert violation(Import("broker.ngsi.model", "broker.storage.port", 1))
    assert violation(Import("broker.storage.port", "broker.http.app", 1))
    assert violation(Import("broker.core.entities", "broker.storage.sqlite.backend", 1))
    assert violation(Import("broker.subscriptions.notifier", "broker.registrations.model", 1))
    assert violation(Import("broker.observability.metrics", "broker.storage.port", 1))
    assert violation(Import("broker.http.app", "broker.runtime.engine", 1))
    assert violation(Import("broker.http.app", "broker.core.entities", 1)) is None
    assert violation(Import("broker.runtime.engine", "broker.storage.factory", 1)) is None
    assert len(LAYERS) == 8


def test_the_check_catches_a_cycle() -> None:
    from tests.layers import Import

    loop = [Import("broker.a", "broker.b", 1), Import("broker.b", "broker.c", 1), Import("broker.c", "broker.a", 1)]
    assert cycles(loop) == [["broker.a", "broker.b", "broker.c"]]
    assert cycles(loop[:2]) == []
