"""How an agent is rebuilt on a server: by import path, or as cloudpickled code."""

from __future__ import annotations

import hashlib
import inspect
import json
import linecache
import marshal
import pickle
import uuid
import weakref
from typing import Any

import cloudpickle

from .._core._errors import CodeNotAcceptedError, MessageError
from .._core._message import check_jsonable
from .._proto import agentnb_pb2 as pb

_hashes: weakref.WeakKeyDictionary[type, str] = weakref.WeakKeyDictionary()
_pickles: weakref.WeakKeyDictionary[type, bytes] = weakref.WeakKeyDictionary()


def source_hash(cls: type) -> str:
    """A short hash of the class's code, to notice when a notebook cell edited it.

    The source when Python can find it; otherwise (classes defined in a
    notebook cell have no file) the bytecode of the methods defined on the
    class and on its bases other than agentnb's own. Computed once per class object
    (a cell that defines the class again makes a new one).
    """
    known = _hashes.get(cls)
    if known is not None:
        return known
    digest = hashlib.sha256()
    try:
        digest.update(inspect.getsource(cls).encode())
    except (OSError, TypeError):
        for klass in cls.__mro__:
            if klass is object or klass.__module__.startswith("agentnb."):
                continue
            digest.update(klass.__qualname__.encode())
            for name, value in sorted(vars(klass).items()):
                code = getattr(getattr(value, "__func__", value), "__code__", None)
                if code is not None:
                    digest.update(name.encode() + marshal.dumps(code))
    _hashes[cls] = result = digest.hexdigest()[:16]
    return result


def class_key(cls: type) -> str:
    """How a shipped class is named on a server: module, name and code hash."""
    return f"{cls.__module__}:{cls.__qualname__}:{source_hash(cls)}"


def class_sources(cls: type) -> tuple[dict[str, str], dict[str, str]]:
    """The text of the files the class's own methods come from (a notebook cell's included),
    and the file of each method by qualified name: so a server's tracebacks show the lines."""
    files: dict[str, str] = {}
    for klass in cls.__mro__:
        if klass is object or klass.__module__.startswith("agentnb."):
            continue
        for value in vars(klass).values():
            function = getattr(value, "__func__", value)
            code = getattr(function, "__code__", None)
            if code is not None:
                files[function.__qualname__] = code.co_filename
    sources = {}
    for filename in sorted(set(files.values())):
        lines = linecache.getlines(filename)
        if lines:
            sources[filename] = "".join(lines)
    return sources, files


def pickled_class(cls: type, name: str, address: str) -> bytes:
    data = _pickles.get(cls)
    if data is None:
        data = _pickles[cls] = _pickle(cls, name, address, "its class")
    return data


def _pickle(value: Any, name: str, address: str, what: str) -> bytes:
    try:
        return bytes(cloudpickle.dumps(value))
    except Exception as exc:
        raise MessageError(
            f"cannot ship agent {name!r} to {address}: {what} cannot be pickled ({type(exc).__name__}: {exc})"
        ) from exc


_PLAIN = (str, int, float, bool, bytes, type(None))


def _plain(value: Any, depth: int = 0) -> bool:
    """Only builtin data (which pickles the same anywhere, without cloudpickle)."""
    if isinstance(value, _PLAIN):
        return True
    if depth > 20:
        return False
    if type(value) in (list, tuple):
        return all(_plain(v, depth + 1) for v in value)
    if type(value) is dict:
        return all(type(k) is str and _plain(v, depth + 1) for k, v in value.items())
    return False


def _dumps(value: tuple[tuple[Any, ...], dict[str, Any]]) -> bytes:
    """Pickle builtin data with the C pickler (fast), anything else with cloudpickle."""
    args, kwargs = value
    flat = all(type(v) in _PLAIN for v in args) and all(type(v) in _PLAIN for v in kwargs.values())
    if flat or _plain(value):
        return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return bytes(cloudpickle.dumps(value))


def importable(cls: type) -> bool:
    return cls.__module__ != "__main__" and "<locals>" not in cls.__qualname__


class Recipe:
    """Everything a server needs to build an agent: its class, name and constructor arguments.

    The constructor need not have run here (``Agent(..., to_dist=True)`` runs it
    only on the server).

    Attributes:
        fingerprint: class code plus constructor arguments: what a rebuilt
            agent depends on (a re-run cell with the same ones reattaches).
    """

    def __init__(
        self, cls: type, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], attach_only: bool = False
    ) -> None:
        self.cls, self.name, self.args, self.kwargs = cls, name, args, kwargs
        self.attach_only = attach_only  # a reference to an agent that exists: never build it
        try:
            self._arguments: bytes | None = _dumps((args, kwargs))
            digest = hashlib.sha256(self._arguments).hexdigest()[:16]
        except Exception:  # noqa: BLE001 - unpicklable arguments: every run is new, shipping fails
            self._arguments, digest = None, uuid.uuid4().hex[:16]
        self.fingerprint = f"{source_hash(cls)}:{digest}"

    def create_op(
        self, address: str, accepts_code: bool, replace: bool, exclusive: bool
    ) -> tuple[pb.Op, str | None]:
        """The create operation to send, and the key of the class to ship first (if any).

        A server that accepts code gets the class (once, see :meth:`define_op`) and
        the pickled arguments; one that does not gets an import recipe if the class
        can be imported there, else no recipe: it attaches to an agent of that name
        if there is one, and explains what to do if there is none.
        """
        cls, name = self.cls, self.name
        op = pb.Op()
        create = op.create
        create.replace, create.exclusive = replace, exclusive
        spec = create.spec
        spec.name, spec.class_name = name, cls.__qualname__
        spec.source_hash, spec.fingerprint = source_hash(cls), self.fingerprint
        if self.attach_only:
            return op, None
        if accepts_code:
            if self._arguments is None:
                _pickle((self.args, self.kwargs), name, address, "its constructor arguments")
            key = class_key(cls)
            spec.by_key.class_key, spec.by_key.arguments = key, self._arguments or b""
            return op, key
        if importable(cls):
            named = self._named_arguments()
            if named is not None:
                spec.by_import.class_path = f"{cls.__module__}:{cls.__qualname__}"
                spec.by_import.kwargs_json = json.dumps(named)
        return op, None

    def define_op(self, address: str) -> pb.Op:
        """Ship the class to a server that accepts code (once per server and class)."""
        sources, files = class_sources(self.cls)
        op = pb.Op()
        define = op.define_class
        define.class_key, define.pickled = class_key(self.cls), pickled_class(self.cls, self.name, address)
        define.sources.update(sources)
        define.code_files.update(files)
        return op

    def _named_arguments(self) -> dict[str, Any] | None:
        """The constructor arguments by name, if they are JSON data (else None: no import recipe)."""
        try:
            signature = inspect.signature(self.cls)
            bound = signature.bind(*self.args, **self.kwargs)
        except TypeError as exc:
            raise MessageError(f"agent {self.name!r}: cannot map its constructor arguments: {exc}") from exc
        named: dict[str, Any] = {}
        for param, value in bound.arguments.items():
            if signature.parameters[param].kind is inspect.Parameter.VAR_KEYWORD:
                named.update(value)
            else:
                named[param] = value
        try:
            check_jsonable(named, f"constructor arguments of agent {self.name!r}")
        except MessageError:
            return None  # it can still attach to an agent of that name that exists there
        return named


def code_needed(recipe: Recipe, address: str) -> CodeNotAcceptedError:
    """The error for an agent that does not exist on a server that cannot build it."""
    cls = recipe.cls
    return CodeNotAcceptedError(
        f"agent {recipe.name!r} does not exist on the server at {address}, and that server does not "
        f"accept code, so class {cls.__qualname__} (defined in {cls.__module__}) cannot be shipped "
        "to it; put the class in a module the server can import, or start the server with "
        "allow_code=True (--allow-code)"
    )
