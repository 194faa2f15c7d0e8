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


def imports_of(path: Path) -> set[str]:
    """Absolute names of the modules a file imports (relative imports resolved)."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                names.add(".".join(base + ([node.module] if node.module else [])))
            else:
                names.add(node.module or "")
    return names


def test_the_layers_import_only_what_the_dependency_rule_allows() -> None:
    package = ROOT / "agentnb"
    for path in package.rglob("*.py"):
        if "_proto" in path.parts:
            continue
        names = imports_of(path)
        rel = path.relative_to(package)
        if rel.parts[0] in ("server", "_runtime"):
            assert not any(n.startswith("agentnb.notebook") for n in names), rel
        else:  # the facade: no gRPC, no stubs except through the runtime
            assert "grpc" not in names, rel
        if rel.parts[0] not in ("server", "_runtime"):
            assert not any(n.startswith("agentnb._proto") for n in names), rel
