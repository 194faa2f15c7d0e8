"""How a server turns an ``AgentSpec`` into a way to build the agent, and what it refuses.

Nothing a client sends runs before it is checked:

* an import recipe (``"package.module:Class"``) is resolved to an object,
  which must be a class and an :class:`~agentnb.AgentBase` subclass before
  anything is called (``os:system`` or ``subprocess:Popen`` are refused
  without running); a launcher may also restrict the modules it imports
  (``allowed_modules``);
* code (a cloudpickled class) is unpickled only on servers that accept code:
  those a driver launched for itself, or launchers started with code allowed;
* a call that names a method (not ``reply``) may name only a public one.
"""

from __future__ import annotations

import importlib
import json
import linecache
from collections.abc import Callable, Iterable
from types import CodeType
from typing import Any

import cloudpickle

from .._core._errors import MessageError
from .._facade._agent import AgentBase
from .._proto import agentnb_pb2 as pb

Factory = Callable[[], Any]


class RecipeError(Exception):
    """A recipe the server refuses; ``reason`` is the agentnb-reason trailer, ``code`` a status name."""

    def __init__(self, code: str, reason: str, message: str) -> None:
        super().__init__(code, reason, message)
        self.code = code
        self.reason = reason
        self.message = message


def module_allowed(module: str, allowed: Iterable[str] | None) -> bool:
    """Whether ``module`` is one of ``allowed`` or inside one of them (None allows all)."""
    if allowed is None:
        return True
    return any(module == a or module.startswith(a + ".") for a in allowed)


def import_agent_class(path: str, allowed: Iterable[str] | None = None) -> type[AgentBase]:
    """Resolve ``"package.module:QualName"`` to an AgentBase subclass, calling nothing.

    Raises:
        RecipeError: malformed path, module not allowed or not importable, or not an agent class.
    """
    module_name, _, qualname = path.partition(":")
    if not module_name or not qualname:
        raise RecipeError(
            "INVALID_ARGUMENT",
            "bad_recipe",
            f"agent class {path!r} must look like 'package.module:ClassName'",
        )
    if not module_allowed(module_name, allowed):
        raise RecipeError(
            "FAILED_PRECONDITION",
            "import_refused",
            f"this server imports agent classes only from {', '.join(sorted(allowed or ()))}; "
            f"{module_name!r} is not one of them (start it with --allow-module {module_name} to allow it)",
        )
    try:
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (Exception, SystemExit) as exc:  # importing runs the module's code: anything may fail
        raise RecipeError(
            "FAILED_PRECONDITION",
            "import_failed",
            f"cannot import agent class {path!r} on this server ({type(exc).__name__}: {exc}); "
            "the module must be importable where the server runs",
        ) from exc
    if not (isinstance(obj, type) and issubclass(obj, AgentBase)):
        raise RecipeError(
            "FAILED_PRECONDITION",
            "not_an_agent",
            f"{path!r} is a {type(obj).__name__}, not an AgentBase subclass; only agent classes can "
            "be built here",
        )
    return obj


def check_method(name: str, agent: str) -> None:
    """Raise MessageError unless ``name`` is a public method name (no dots, no leading ``_``)."""
    if not name.isidentifier() or name.startswith("_"):
        raise MessageError(
            f"a call of agent {agent!r} may name only a public method (a plain name not starting "
            f"with '_'), not {name[:100]!r}"
        )


class Recipes:
    """Builds factories from specs for one server."""

    def __init__(
        self, accepts_code: bool, allowed_modules: Iterable[str] | None, max_classes: int = 1000
    ) -> None:
        self.accepts_code = accepts_code
        self.allowed_modules = None if allowed_modules is None else tuple(allowed_modules)
        self._classes: dict[str, type] = {}
        self._max_classes = max_classes

    def _need_code(self, what: str) -> None:
        if not self.accepts_code:
            raise RecipeError(
                "FAILED_PRECONDITION",
                "code_not_accepted",
                f"this server does not accept code, so {what} cannot be shipped to it; make the class "
                "importable on the server and attach by import path, or start the server with "
                "--allow-code",
            )

    def define(self, request: pb.DefineClassRequest) -> None:
        """Keep a shipped class under its key (servers that accept code only)."""
        self._need_code(f"class {request.class_key!r}")
        if request.class_key in self._classes:
            return
        try:
            cls = cloudpickle.loads(request.pickled)
        except Exception as exc:  # noqa: BLE001 - whatever the bytes were, they are not a class
            raise RecipeError(
                "INVALID_ARGUMENT", "bad_code", f"class {request.class_key!r} does not unpickle ({exc!r})"
            ) from exc
        if not (isinstance(cls, type) and issubclass(cls, AgentBase)):
            raise RecipeError(
                "INVALID_ARGUMENT", "not_an_agent", f"{request.class_key!r} is not an agent class"
            )
        if len(self._classes) >= self._max_classes:
            self._classes.pop(next(iter(self._classes)))
        self._classes[request.class_key] = cls
        for filename, text in request.sources.items():
            if filename not in linecache.cache:  # a file this machine has wins
                linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
        _restore_filenames(cls, dict(request.code_files))

    def agent_class(self, spec: pb.AgentSpec) -> type | None:
        """The class a recipe builds, if known before building it (None for a pickled one)."""
        recipe = spec.WhichOneof("recipe")
        if recipe == "by_key":
            return self._classes.get(spec.by_key.class_key)
        if recipe == "by_import":
            try:
                return import_agent_class(spec.by_import.class_path, self.allowed_modules)
            except RecipeError:
                return None
        return None

    def factory(self, spec: pb.AgentSpec) -> Factory:
        """A function that builds the agent; checks everything it can before returning."""
        recipe = spec.WhichOneof("recipe")
        if recipe == "by_import":
            cls = import_agent_class(spec.by_import.class_path, self.allowed_modules)
            try:
                kwargs = json.loads(spec.by_import.kwargs_json or "{}")
            except ValueError as exc:
                raise RecipeError("INVALID_ARGUMENT", "bad_recipe", f"bad kwargs JSON: {exc}") from exc
            if not isinstance(kwargs, dict):
                raise RecipeError(
                    "INVALID_ARGUMENT", "bad_recipe", "constructor kwargs must be a JSON object"
                )
            return lambda: cls(**kwargs)
        if recipe == "by_key":
            self._need_code(f"class {spec.class_name!r}")
            defined = self._classes.get(spec.by_key.class_key)
            if defined is None:
                raise RecipeError(
                    "FAILED_PRECONDITION", "class_unknown", f"class {spec.class_name!r} was not shipped here"
                )
            data = spec.by_key.arguments

            def build() -> Any:
                args, kwargs = cloudpickle.loads(data)
                return defined(*args, **kwargs)

            return build
        if recipe == "pickled":
            self._need_code(f"class {spec.class_name!r}")
            data = spec.pickled

            def unpickle() -> Any:
                cls, args, kwargs = cloudpickle.loads(data)
                return cls(*args, **kwargs)

            return unpickle
        raise RecipeError(
            "FAILED_PRECONDITION",
            "code_not_accepted",
            f"there is no agent {spec.name!r} on this server, and its class {spec.class_name!r} cannot be "
            "shipped here: this server does not accept code. Put the class in a module the server can "
            "import (then it is built by import path), or start the server with --allow-code",
        )

    def mesh_parts(
        self, spec: pb.AgentSpec, overrides: bytes
    ) -> tuple[type, tuple[Any, ...], dict[str, Any], dict[int, dict[str, Any]]]:
        """What a mesh's agents are built from: the class, the shared positional and keyword
        arguments, and keyword arguments of single agents by mesh index (checked like
        :meth:`factory`; an import recipe's are JSON, shipped code's pickled)."""
        recipe = spec.WhichOneof("recipe")
        if recipe == "by_import":
            cls = import_agent_class(spec.by_import.class_path, self.allowed_modules)
            kwargs = _json_object(spec.by_import.kwargs_json or "{}", "the mesh's constructor kwargs")
            table = _json_object(overrides.decode("utf-8", "replace") or "{}", "the mesh's overrides")
            try:
                by_index = {int(k): v for k, v in table.items()}
            except ValueError as exc:
                raise RecipeError("INVALID_ARGUMENT", "bad_recipe", f"overrides: {exc}") from exc
            if not all(isinstance(v, dict) for v in by_index.values()):
                raise RecipeError("INVALID_ARGUMENT", "bad_recipe", "each override must be a JSON object")
            return cls, (), kwargs, by_index
        if recipe == "by_key":
            self._need_code(f"class {spec.class_name!r}")
            defined = self._classes.get(spec.by_key.class_key)
            if defined is None:
                raise RecipeError(
                    "FAILED_PRECONDITION", "class_unknown", f"class {spec.class_name!r} was not shipped here"
                )
            try:
                args, kwargs = cloudpickle.loads(spec.by_key.arguments)
                by_index = cloudpickle.loads(overrides) if overrides else {}
            except Exception as exc:  # noqa: BLE001 - whatever the bytes were, they are not arguments
                raise RecipeError(
                    "INVALID_ARGUMENT", "bad_recipe", f"the mesh's arguments do not unpickle ({exc!r})"
                ) from exc
            return defined, tuple(args), dict(kwargs), dict(by_index)
        raise RecipeError(
            "FAILED_PRECONDITION",
            "code_not_accepted",
            f"mesh {spec.name!r} of class {spec.class_name!r} cannot be built here: this server does not "
            "accept code. Put the class in a module the server can import (then it is built by import "
            "path), or start the server with --allow-code",
        )


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise RecipeError("INVALID_ARGUMENT", "bad_recipe", f"{what}: bad JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise RecipeError("INVALID_ARGUMENT", "bad_recipe", f"{what} must be a JSON object")
    return value


def _restore_filenames(cls: type, files: dict[str, str]) -> None:
    """Give shipped methods back the file names pickling took from them (for tracebacks)."""
    for klass in cls.__mro__:
        for value in vars(klass).values():
            function = getattr(value, "__func__", value)
            code = getattr(function, "__code__", None)
            filename = files.get(getattr(function, "__qualname__", ""))
            if code is not None and filename and code.co_filename == "<dynamic-code>":
                function.__code__ = _renamed(code, filename)


def _renamed(code: CodeType, filename: str) -> CodeType:
    consts = tuple(_renamed(c, filename) if isinstance(c, CodeType) else c for c in code.co_consts)
    return code.replace(co_filename=filename, co_consts=consts)
