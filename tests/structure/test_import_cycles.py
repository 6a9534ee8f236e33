"""No import cycles among our modules or between the layers of a package (`.ci/import_cycles.py`),
counting imports under TYPE_CHECKING and inside functions."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from tests.structure.walk import ROOT


def cycles_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("import_cycles", ROOT / ".ci" / "import_cycles.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("import_cycles", module)
    spec.loader.exec_module(module)
    return module


SCRIPT = cycles_script()


def test_components_of_a_small_graph() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}, "f": {"d"}}
    assert SCRIPT.strongly_connected(graph) == [["a", "b", "c"]]


def test_layers_close_a_cycle_that_no_module_closes() -> None:
    modules = {
        "bot.engine.engine": {"bot.pipeline.queue"},
        "bot.pipeline.queue": set(),
        "bot.pipeline.flow": {"bot.engine.gate"},
        "bot.engine.gate": set(),
        "bot.audit": set(),
    }
    assert SCRIPT.strongly_connected(modules) == []
    assert SCRIPT.strongly_connected(SCRIPT.layer_graph(modules)) == [["bot.engine", "bot.pipeline"]]


def test_the_code_has_no_cycle_but_the_allowed_ones() -> None:
    cycles = SCRIPT.find_cycles()
    new, stale = SCRIPT.not_allowed(cycles)
    assert new == []
    assert stale == []
    assert SCRIPT.main([]) == 0
