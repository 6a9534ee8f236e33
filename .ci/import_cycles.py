"""Count import cycles among the first-party packages; exit 1 when there is one that is not allowed.

Every import counts: at module level, under `if TYPE_CHECKING:` and inside functions (grimp sees
them all). Two levels are checked:

- modules: `a.b` imports `a.c` which (through any chain) imports `a.b`;
- sub-packages of one top-level package (`bot.engine`, `bot.pipeline`, ...): a cycle between
  two layers, even when no single module closes it (the issue's `engine` → `pipeline.jobs` while
  `pipeline.incident_flow` → `engine`).

    python .ci/import_cycles.py            # print the cycles and the count; exit 1 if any is new
    python .ci/import_cycles.py --json     # the same as one JSON object

`tests/structure/test_import_cycles.py` runs it in the suite.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "detectors", "runbooks", "integrations")

# Cycles that other work removes, each named by the sorted members of its strongly connected
# component. Delete an entry when its cycle is gone (a stale entry fails the check too).
ALLOWED: dict[frozenset[str], str] = {}


def strongly_connected(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; components of more than one node (each a cycle or a knot of them)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work: list[tuple[str, Iterable[str]]] = [(root, iter(graph.get(root, ())))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            advanced = False
            for target in edges:
                if target not in index:
                    index[target] = low[target] = counter
                    counter += 1
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(graph.get(target, ()))))
                    advanced = True
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found)


def module_graph() -> dict[str, set[str]]:
    sys.path.insert(0, str(ROOT))
    graph = grimp.build_graph(*PACKAGES, include_external_packages=False, cache_dir=None)
    return {module: set(graph.find_modules_directly_imported_by(module)) for module in graph.modules}


def layer_of(module: str) -> str:
    """`bot.engine.gate` -> `bot.engine`; `bot.audit` -> `bot.audit` (a top-level module is its own layer)."""
    return ".".join(module.split(".")[:2])


def layer_graph(modules: Mapping[str, set[str]]) -> dict[str, set[str]]:
    layers: dict[str, set[str]] = {}
    for module, targets in modules.items():
        source = layer_of(module)
        layers.setdefault(source, set()).update(
            layer_of(t) for t in targets if layer_of(t) != source and t.split(".")[0] == module.split(".")[0]
        )
    return layers


def find_cycles() -> dict[str, list[list[str]]]:
    modules = module_graph()
    return {"modules": strongly_connected(modules), "layers": strongly_connected(layer_graph(modules))}


def not_allowed(cycles: dict[str, list[list[str]]]) -> tuple[list[list[str]], list[str]]:
    """The cycles nobody allowed, and the allowances no cycle uses any more."""
    seen = {frozenset(c) for found in cycles.values() for c in found}
    new = [c for found in cycles.values() for c in found if frozenset(c) not in ALLOWED]
    stale = [", ".join(sorted(a)) for a in ALLOWED if a not in seen]
    return new, stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    cycles = find_cycles()
    new, stale = not_allowed(cycles)
    total = sum(len(found) for found in cycles.values())
    if args.json:
        print(json.dumps({**cycles, "count": total, "not_allowed": new, "stale_allowances": stale}))
    else:
        for level, found in cycles.items():
            for cycle in found:
                note = ALLOWED.get(frozenset(cycle), "NOT ALLOWED")
                print(f"{level}: {' <-> '.join(cycle)}  [{note}]")
        for allowance in stale:
            print(f"stale allowance (no such cycle any more): {allowance}")
        print(f"import cycles: {total} ({len(new)} not allowed)")
    return 1 if new or stale else 0


if __name__ == "__main__":
    sys.exit(main())
