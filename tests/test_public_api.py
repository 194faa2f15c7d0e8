from __future__ import annotations

import ast
import pickle
import re
import subprocess
import sys
from pathlib import Path

import agentnb
from agentnb import Msg
from agentnb._core import _errors

ROOT = Path(__file__).resolve().parent.parent


def test_exported_members_are_sorted_and_public() -> None:
    assert agentnb.__all__ == sorted(agentnb.__all__)
    for name in agentnb.__all__:
        assert hasattr(agentnb, name), name
    # IPython's extension hook must be a module attribute; it is not API
    hidden = {"annotations", "load_ipython_extension"} | {n for n in vars(agentnb) if n in LAYERS}
    public = {n for n in vars(agentnb) if not n.startswith("_") and n not in hidden}
    assert public == set(agentnb.__all__) - {"__version__"}
    assert set(agentnb._EXPORTS) == set(agentnb.__all__)
    assert sorted(dir(agentnb)) == dir(agentnb) and set(agentnb.__all__) <= set(dir(agentnb))


def test_every_exception_pickles_and_unpickles() -> None:
    for name in dir(_errors):
        cls = getattr(_errors, name)
        if isinstance(cls, type) and issubclass(cls, _errors.AgentnbError):
            if cls is _errors.RemoteError:
                exc = cls("A", "127.0.0.1:1", "ValueError", "bad", "Traceback ...")
            else:
                exc = cls("something went wrong")
            back = pickle.loads(pickle.dumps(exc))
            assert type(back) is cls and str(back) == str(exc)


def test_the_generated_stubs_are_not_stale() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_protos.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _imports(tree: ast.Module) -> tuple[list[ast.stmt], list[ast.stmt]]:
    """The import statements at module level (``if TYPE_CHECKING`` ones included: a type
    checker follows them, and so does a reader), and those inside functions."""
    top: list[ast.stmt] = []
    inner: list[ast.stmt] = []

    def visit(nodes: list[ast.stmt], in_function: bool) -> None:
        for node in nodes:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                (inner if in_function else top).append(node)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                visit(node.body, True)
            elif isinstance(node, (ast.ClassDef, ast.If, ast.Try, ast.With)):
                for field in ("body", "orelse", "finalbody"):
                    visit(getattr(node, field, []), in_function)
                for handler in getattr(node, "handlers", []):
                    visit(handler.body, in_function)

    visit(tree.body, False)
    return top, inner


def _names(path: Path, statements: list[ast.stmt]) -> set[str]:
    """Absolute names of the modules ``statements`` import (relative imports resolved)."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    names = set()
    for node in statements:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            folder = ROOT.joinpath(*module.split("."))
            for alias in node.names:  # ``from pkg import x``: x a module of pkg, or a name in it
                is_module = (folder / f"{alias.name}.py").exists() or (folder / alias.name).is_dir()
                names.add(f"{module}.{alias.name}" if is_module else module)
    return names


#: The layers (the subpackages of agentnb, and the root), and what each may import
#: besides itself; the root docstring names the same layers, in this order. Bottom up:
#: a layer imports only layers listed before it, never one after (``server`` and
#: ``notebook`` sit side by side and never import each other). ``server`` takes
#: only ``AgentBase`` from the facade: it hosts agents.
LAYERS = {
    "_core": set(),
    "_proto": set(),
    "_runtime": {"_core", "_proto"},
    "_facade": {"_core", "_runtime"},
    "server": {"_core", "_proto", "_runtime", "agentnb._facade._agent"},
    "notebook": {"_core", "_runtime", "_facade"},
    "chat": {"_core", "_facade", "agentnb"},
    "workshop": {"_core", "_runtime", "_facade", "notebook", "chat", "agentnb"},
    "agentnb": {"_core", "_runtime", "_facade", "server", "notebook"},
}

#: agentnb's own modules imported inside functions, each for a reason that is
#: not an import cycle (heavy third-party imports they carry wait for use).
LAZY = {
    ("__init__.py", "agentnb.notebook._kernel"): "the kernel integration: only inside a Jupyter kernel",
    ("__init__.py", "agentnb.notebook._magics"): "IPython's magics: loaded only when IPython asks",
    ("notebook/graph/_graph.py", "agentnb.notebook.graph._widget"): "anywidget: only when a graph is shown",
    ("_facade/_agent.py", "agentnb._facade._dist"): (
        "the session and its links: a server loads them only when one of its agents uses another"
    ),
}

#: Import circles that remain, each with its reason (none: keep it so).
CIRCLES: dict[frozenset[str], str] = {}


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "agentnb":
        return None
    return parts[1] if len(parts) > 1 and parts[1] != "__init__" else "agentnb"


def _modules() -> dict[str, Path]:
    package = ROOT / "agentnb"
    found = {}
    for path in package.rglob("*.py"):
        rel = path.relative_to(package)
        module = ".".join(("agentnb", *rel.with_suffix("").parts)).removesuffix(".__init__")
        found[module] = path
    return found


def test_the_layers_import_only_what_the_dependency_rule_allows() -> None:
    checked = 0
    for module, path in _modules().items():
        rel = path.relative_to(ROOT / "agentnb")
        own = layer_of(module)
        assert own in LAYERS, (
            f"{rel}: a layer the rule does not know ({own}); add it to LAYERS and the docstring"
        )
        if own == "_proto":
            continue  # generated
        top, inner = _imports(ast.parse(path.read_text()))
        for name in _names(path, top):
            layer = layer_of(name)
            if layer is None:
                if own in ("_core", "_facade", "notebook", "chat"):
                    assert name.split(".")[0] != "grpc", (
                        f"{rel} imports grpc: only _runtime and server speak it"
                    )
                continue
            allowed = LAYERS[own] | {own}
            assert layer in allowed or name in allowed, f"{rel} ({own}) imports {name} ({layer})"
            checked += 1
        for name in _names(path, inner):
            if layer_of(name) is None:
                continue  # a third-party import waiting for use: a cost, not a cycle
            assert (rel.as_posix(), name) in LAZY, (
                f"{rel} imports {name} inside a function: import it at the top, or say in LAZY why it "
                "must wait (never to dodge an import cycle: move the code to the layer it belongs to)"
            )
    assert checked > 100


def test_the_root_docstring_names_the_layers_of_the_rule_in_its_order() -> None:
    named = re.findall(r"^\* ``agentnb\.(\w+)``", agentnb.__doc__ or "", re.M)
    assert named == [layer for layer in LAYERS if layer != "agentnb"]


def _circles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.add(item)
                if item == node:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_the_import_graph_has_no_circle_type_only_and_function_level_imports_included() -> None:
    modules = _modules()
    graph = {}
    for module, path in modules.items():
        top, inner = _imports(ast.parse(path.read_text()))
        graph[module] = {name for name in _names(path, top + inner) if name in modules and name != module}
    circles = _circles(graph)
    assert set(circles) == set(CIRCLES), [sorted(c) for c in circles]
    for name in graph.get("agentnb.server", set()) | {m for m in modules if m.startswith("agentnb.server.")}:
        assert not {
            n for n in graph.get(name, ()) if n.startswith(("agentnb.notebook", "agentnb._facade._dist"))
        }


#: Modules no agent server may load: the notebook layer, the facade's session side, and the
#: notebook's third-party packages.
NOT_ON_SERVERS = (
    "agentnb.notebook", "agentnb._facade._dist", "agentnb._facade._placeholder", "agentnb._facade._status",
    "IPython", "ipykernel", "ipywidgets", "anywidget", "graphviz", "traitlets",
)  # fmt: skip


def test_a_server_process_hosting_an_agent_loads_no_notebook_facade_session_or_widget_module() -> None:
    from probe_agents import LoadedModules

    agent = LoadedModules(name="probe").to_dist()
    loaded = agent(Msg("user", list(NOT_ON_SERVERS))).content
    assert loaded["agentnb"], "the probe saw no agentnb module at all"
    assert loaded["forbidden"] == [], loaded["forbidden"]
    assert "agentnb._facade._agent" in loaded["agentnb"] and "agentnb.server._app" in loaded["agentnb"]


def _loaded_by(code: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys; print(' '.join(sorted(sys.modules)))"],
        capture_output=True, text=True, timeout=120, cwd=ROOT / "tests",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def test_importing_agentnb_loads_only_its_root_and_a_script_driver_loads_no_notebook_module() -> None:
    assert {m for m in _loaded_by("import agentnb") if m.startswith("agentnb")} == {"agentnb"}
    assert not {m for m in _loaded_by("import agentnb") if m.startswith(("grpc", "google", "cloudpickle"))}
    script = (
        "import agentnb\nfrom agentnb import Msg\nfrom agents import Echo\n"
        "print(Echo(name='E').to_dist()(Msg('u', 'hi')).content)\nagentnb.shutdown()"
    )
    loaded = _loaded_by(script)
    assert "agentnb._facade._dist" in loaded and "grpc" in loaded
    assert not {m for m in loaded if m.startswith(NOT_ON_SERVERS[:1] + NOT_ON_SERVERS[4:])}
