"""The layers that keep the architecture honest, checked from the source.

Every package sits on one layer of `LAYERS` and imports only packages of its own layer or of a
layer below it, through any chain of imports: `import_graph` reads every module with `ast`
(imports at module level and inside functions alike), and importing a module also runs the
``__init__`` of each package above it. The README's architecture section names every layer and
package. `python tests/test_architecture.py` prints what the graph measures: the import edges
between packages, the import cycles, the files on no layer and the imports that go up a layer.
"""

from __future__ import annotations

import ast
import re
from collections import deque
from pathlib import Path

import legflow

ROOT = Path(legflow.__file__).parent

#: The layers, bottom first: a package may import packages of its own layer or of a layer below it
#: (``legflow`` is the top package's own ``__init__``). The README's architecture section follows it.
LAYERS: dict[str, tuple[str, ...]] = {
    "core": ("legflow", "clock", "errors", "anatomy", "paths"),
    "programs": ("programs",),
    "domain": ("safety", "device", "twin", "store", "evidence", "screening", "records"),
    "plan": ("plan",),
    "engine": ("engine",),
    "trials": ("trials",),
    "apps": ("__main__", "apps", "cli", "web"),
}
LAYER_OF = {package: rank for rank, packages in enumerate(LAYERS.values()) for package in packages}


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_of(module: str) -> str:
    """``legflow.engine.session`` → ``engine``; the top package itself → ``legflow``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Each module of the package → the package's modules it imports, at module level or inside a
    function alike. ``from P import name`` imports the module ``P.name`` where there is one, else P."""
    files = {module_name(path, root): path for path in root.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the module's own package, up level - 1
                    here = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
                    base = ".".join(here[: len(here) - node.level + 1] + ([base] if base else []))
                subs = {f"{base}.{alias.name}" for alias in node.names} & files.keys()
                found |= subs or {base}
        graph[module] = {m for m in found if m in files and m != module}
    return graph


def with_parents(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The graph with what importing a module runs first: the ``__init__`` of each package above it."""
    return {
        module: imported | {".".join(m.split(".")[:k]) for m in imported for k in range(1, m.count(".") + 1)}
        for module, imported in graph.items()
    }


def package_edges(graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    return {
        (package_of(a), package_of(b))
        for a, bs in graph.items()
        for b in bs
        if package_of(a) != package_of(b)
    }


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def off_layer(graph: dict[str, set[str]]) -> list[str]:
    """Modules whose package is on no layer."""
    return sorted(m for m in graph if package_of(m) not in LAYER_OF)


def upward_imports(graph: dict[str, set[str]]) -> dict[tuple[str, str], tuple[str, ...]]:
    """(module, package on a higher layer than the module's) → the shortest chain of imports by which
    the module reaches that package, through any module and the ``__init__`` each import runs."""
    full = with_parents(graph)
    found: dict[tuple[str, str], tuple[str, ...]] = {}
    for start in sorted(graph):
        rank = LAYER_OF.get(package_of(start))
        if rank is None:
            continue
        seen, queue = {start}, deque([(start,)])
        while queue:
            chain = queue.popleft()
            here = chain[-1]  # its own imports first, then the __init__ files they run
            for nxt in [*sorted(graph[here] - seen), *sorted(full[here] - graph[here] - seen)]:
                if nxt in seen:
                    continue
                seen.add(nxt)
                if LAYER_OF.get(package_of(nxt), rank) > rank:
                    found.setdefault((start, package_of(nxt)), (*chain, nxt))
                queue.append((*chain, nxt))
    return found


def measure(root: Path = ROOT) -> dict[str, object]:
    graph = import_graph(root)
    packages = package_edges(graph)
    package_graph: dict[str, set[str]] = {}
    for a, b in packages:
        package_graph.setdefault(a, set()).add(b)
    return {
        "modules": len(graph),
        "module edges": sum(len(bs) for bs in graph.values()),
        "module edges between packages": sum(
            package_of(a) != package_of(b) for a, bs in graph.items() for b in bs
        ),
        "package edges": len(packages),
        "module cycles": cycles(graph),
        "package cycles": cycles(package_graph),
        "files on no layer": off_layer(graph),
        "modules importing upward": upward_imports(graph),
    }


GRAPH = import_graph()


def test_every_module_is_on_a_layer():
    assert off_layer(GRAPH) == [], "add the module's package to LAYERS"


def test_every_package_imports_only_its_own_layer_and_those_below():
    up = [" → ".join(chain) for _, chain in sorted(upward_imports(GRAPH).items())]
    assert not up, "imports up a layer:\n" + "\n".join(up)


def test_no_module_imports_itself_through_others():
    assert cycles(GRAPH) == []


#: What an engine module never imports (DESIGN.md: the engine gets the massager only behind the
#: supervisor): the history and the massagers themselves, the simulator and the serial client. The
#: apps build them (`legflow.apps.launch`); the engine talks to a `Recorder` and a `Limb`
#: (`legflow.engine.interfaces`). The plan's pump check may still read the simulator's gas law.
ENGINE_NEVER_IMPORTS = ("legflow.store", "legflow.device.sim", "legflow.device.wire")


def test_the_engine_builds_no_massager_and_no_history():
    for module, imported in sorted(GRAPH.items()):
        if package_of(module) == "engine":
            bad = sorted(
                m for m in imported if f"{m}.".startswith(tuple(f"{p}." for p in ENGINE_NEVER_IMPORTS))
            )
            assert not bad, f"{module} imports {bad}"


def test_the_readme_draws_every_layer_and_names_every_package():
    """The picture has one line per layer, top first: its name, then its packages (``a · b``)."""
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    section = readme[readme.index("## Architecture") :]
    rows = [
        re.match(r"(\w+) +(\w+(?: · \w+)*)(?:  |$)", line) for line in section.split("```")[1].splitlines()
    ]
    drawn = {row[1]: set(row[2].split(" · ")) for row in rows if row}
    assert [row[1] for row in rows if row] == list(reversed(LAYERS)), "one line per layer, top first"
    for layer, packages in LAYERS.items():
        named = {p for p in packages if p not in ("legflow", "__main__")}
        assert drawn[layer] == named, f"the picture's {layer} line"
        for package in named:
            assert f"`legflow.{package}`" in section, f"the table names legflow.{package}"


def test_nothing_outside_a_clock_reads_the_wall_clock():
    for file in ROOT.rglob("*.py"):
        text = file.read_text()
        for call in ("time.time(", "time.monotonic(", "time.sleep("):
            assert call not in text or file.name == "clock.py", f"{file.relative_to(ROOT)} calls {call}"


def test_the_import_graph_sees_every_kind_of_import(tmp_path):
    root = tmp_path / "pkg"
    (root / "sub").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "a.py").write_text("import pkg.b\n\ndef f():\n    from pkg.sub import c\n")
    (root / "b.py").write_text("from pkg import a\nfrom pkg.sub import helper\n")
    (root / "sub" / "__init__.py").write_text("from .c import helper\n")
    (root / "sub" / "c.py").write_text("from ..b import x\nfrom . import d\n")
    (root / "sub" / "d.py").write_text("import os\n")
    graph = import_graph(root)
    assert graph == {
        "pkg": set(),
        "pkg.a": {"pkg.b", "pkg.sub.c"},
        "pkg.b": {"pkg.a", "pkg.sub"},
        "pkg.sub": {"pkg.sub.c"},
        "pkg.sub.c": {"pkg.b", "pkg.sub.d"},
        "pkg.sub.d": set(),
    }
    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.sub", "pkg.sub.c"]]
    assert with_parents(graph)["pkg.a"] == {"pkg", "pkg.b", "pkg.sub", "pkg.sub.c"}


def test_an_import_up_a_layer_is_found_through_other_modules_and_package_inits():
    graph = {
        "legflow": set(),
        "legflow.twin": set(),
        "legflow.twin.x": {"legflow.device.profile"},  # a peer on its own layer: allowed
        "legflow.device": {"legflow.device.sim"},  # the package's __init__, run by that import
        "legflow.device.profile": set(),
        "legflow.device.sim": {"legflow.engine.session"},  # up from domain to engine
        "legflow.engine": set(),
        "legflow.engine.session": set(),
    }
    found = upward_imports(graph)
    assert found[("legflow.twin.x", "engine")] == (
        "legflow.twin.x",
        "legflow.device",
        "legflow.device.sim",
        "legflow.engine.session",
    )
    assert found.keys() == {(m, "engine") for m in ("legflow.twin.x", "legflow.device", "legflow.device.sim")}


if __name__ == "__main__":
    for what, value in measure().items():
        if isinstance(value, list | dict):
            print(f"{what}: {len(value)}")
            for item in value:
                print("   ", " → ".join(value[item]) if isinstance(value, dict) else item)
        else:
            print(f"{what}: {value}")
