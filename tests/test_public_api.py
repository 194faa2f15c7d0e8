from __future__ import annotations

import ast
import pickle
import subprocess
import sys
from pathlib import Path

import agentnb
from agentnb import _errors

ROOT = Path(__file__).resolve().parent.parent


def test_exported_members_are_sorted_and_public() -> None:
    assert agentnb.__all__ == sorted(agentnb.__all__)
    for name in agentnb.__all__:
        assert hasattr(agentnb, name), name
    # IPython's extension hook must be a module attribute; it is not API
    hidden = {"annotations", "server", "notebook", "chat", "workshop", "load_ipython_extension"}
    public = {n for n in vars(agentnb) if not n.startswith("_") and n not in hidden}
    assert public == set(agentnb.__all__) - {"__version__"}


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


def _runtime_imports(tree: ast.Module) -> tuple[list[ast.stmt], list[ast.stmt]]:
    """The import statements that run (module level, outside ``if TYPE_CHECKING``), and those in functions."""
    top: list[ast.stmt] = []
    inner: list[ast.stmt] = []

    def visit(nodes: list[ast.stmt], in_function: bool) -> None:
        for node in nodes:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                (inner if in_function else top).append(node)
            elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue  # for type checkers only: never runs, so never a cycle
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
                if node.module is None:  # ``from . import x``: x a module, or a name of the package
                    folder = ROOT.joinpath(*module.split("."))
                    for alias in node.names:
                        is_module = (folder / f"{alias.name}.py").exists() or (folder / alias.name).is_dir()
                        names.add(f"{module}.{alias.name}" if is_module else module)
                else:
                    names.add(module)
            else:
                names.add(node.module or "")
    return names


#: The layers, bottom up; a module may import its own layer and the ones below
#: it, never one above (``server`` and ``notebook`` sit side by side and never
#: import each other). ``server`` takes only ``AgentBase`` from the facade: it
#: builds agents.
BASE = {
    "_version",
    "_address",
    "_config",
    "_context",
    "_errors",
    "_events",
    "_message",
    "_tls",
    "_token",
    "_connection",
}
FACADE = {"_agent", "_dist", "_placeholder", "_html", "_status", "_hub"}
ALLOWED = {
    "base": {"base"},
    "_proto": {"base", "_proto"},
    "_runtime": {"base", "_proto", "_runtime"},
    "facade": {"base", "_runtime", "facade"},
    "server": {"base", "_proto", "_runtime", "server", "agentnb._agent"},
    "notebook": {"base", "_runtime", "facade", "notebook"},
    "chat": {"base", "_runtime", "facade", "chat"},
    "workshop": {"base", "_runtime", "facade", "notebook", "chat", "workshop", "agentnb"},
    "agentnb": {"base", "_proto", "_runtime", "facade", "server", "notebook", "chat", "agentnb"},
}

#: agentnb's own modules imported inside functions, each for a reason that is
#: not an import cycle (heavy third-party imports they carry wait for use).
LAZY = {
    ("__init__.py", "agentnb.notebook._magics"): "IPython's magics: loaded only when IPython asks",
    ("notebook/_graph.py", "agentnb.notebook._graph_widget"): "anywidget: loaded only when a graph is shown",
}


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "agentnb":
        return None
    if len(parts) == 1:
        return "agentnb"
    if parts[1] in BASE:
        return "base"
    if parts[1] in FACADE:
        return "facade"
    if parts[1] == "__init__":
        return "agentnb"
    return parts[1]


def test_the_layers_import_only_what_the_dependency_rule_allows() -> None:
    package = ROOT / "agentnb"
    checked = 0
    for path in package.rglob("*.py"):
        rel = path.relative_to(package)
        if rel.parts[0] == "_proto":
            continue
        module = ".".join(("agentnb", *rel.with_suffix("").parts))
        if module.endswith(".__init__"):
            module = module.removesuffix(".__init__")
        own = layer_of(module)
        assert own is not None
        top, inner = _runtime_imports(ast.parse(path.read_text()))
        for name in _names(path, top):
            layer = layer_of(name)
            if layer is None:
                if own in ("base", "facade", "notebook", "chat"):
                    assert name.split(".")[0] != "grpc", (
                        f"{rel} imports grpc: only _runtime and server speak it"
                    )
                continue
            allowed = ALLOWED[own]
            assert layer in allowed or name in allowed, f"{rel} ({own}) imports {name} ({layer})"
            checked += 1
        for name in _names(path, inner):
            if layer_of(name) is None:
                continue  # a third-party import waiting for use: a cost, not a cycle
            key = (rel.as_posix(), name)
            assert key in LAZY, (
                f"{rel} imports {name} inside a function: import it at the top, or say in LAZY why it "
                "must wait (never to dodge an import cycle: move the code to the layer it belongs to)"
            )
    assert checked > 100


def test_the_server_never_loads_the_notebook_layer_or_ipython() -> None:
    code = (
        "import sys, agentnb.server.__main__; "
        "bad = sorted(m for m in sys.modules if m.startswith(('agentnb.notebook._graph_widget', 'IPython', "
        "'anywidget', 'ipywidgets'))); print(bad); assert not bad"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
