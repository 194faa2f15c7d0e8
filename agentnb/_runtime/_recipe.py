"""How an agent is rebuilt on a server: by import path, or as cloudpickled code."""

from __future__ import annotations

import hashlib
import inspect
import json
import marshal
import uuid
from typing import Any

import cloudpickle

from .._agent import AgentBase
from .._errors import CodeNotAcceptedError, MessageError
from .._message import check_jsonable
from .._proto import agentnb_pb2 as pb


def source_hash(cls: type) -> str:
    """A short hash of the class's code, to notice when a notebook cell edited it.

    The source when Python can find it; otherwise (classes defined in a
    notebook cell have no file) the bytecode of the methods defined on the
    class and on its bases below AgentBase.
    """
    digest = hashlib.sha256()
    try:
        digest.update(inspect.getsource(cls).encode())
    except (OSError, TypeError):
        for klass in cls.__mro__:
            if klass is AgentBase or klass is object:
                continue
            digest.update(klass.__qualname__.encode())
            for name, value in sorted(vars(klass).items()):
                code = getattr(getattr(value, "__func__", value), "__code__", None)
                if code is not None:
                    digest.update(name.encode() + marshal.dumps(code))
    return digest.hexdigest()[:16]


def fingerprint(agent: AgentBase) -> str:
    """Class code plus constructor arguments: what a rebuilt agent depends on."""
    args, kwargs = agent._init_args
    try:
        arguments = hashlib.sha256(cloudpickle.dumps((args, sorted(kwargs.items())))).hexdigest()[:16]
    except Exception:  # noqa: BLE001 - unpicklable arguments: treat every run as new
        arguments = uuid.uuid4().hex
    return f"{source_hash(type(agent))}:{arguments}"


def importable(cls: type) -> bool:
    return cls.__module__ != "__main__" and "<locals>" not in cls.__qualname__


def agent_spec(agent: AgentBase, address: str, accepts_code: bool) -> pb.AgentSpec:
    """The recipe that rebuilds ``agent`` from its recorded constructor arguments."""
    cls = type(agent)
    args, kwargs = agent._init_args
    spec = pb.AgentSpec(name=agent.name, class_name=cls.__qualname__, source_hash=source_hash(cls))
    if accepts_code:
        try:
            spec.pickled = cloudpickle.dumps((cls, args, kwargs))
        except Exception as exc:
            raise MessageError(
                f"cannot ship agent {agent.name!r} ({cls.__qualname__}) to {address}: its class or "
                f"constructor arguments cannot be pickled ({type(exc).__name__}: {exc})"
            ) from exc
        return spec
    if not importable(cls):
        raise CodeNotAcceptedError(
            f"agent {agent.name!r}: class {cls.__qualname__} is defined in a notebook or script "
            f"(module {cls.__module__}), and the server at {address} does not accept code; put "
            "the class in a module the server can import, or start the server with allow_code"
        )
    try:
        bound = inspect.signature(cls).bind(*args, **kwargs)
    except TypeError as exc:
        raise MessageError(f"agent {agent.name!r}: cannot map its constructor arguments: {exc}") from exc
    named: dict[str, Any] = {}
    for param, value in bound.arguments.items():
        if inspect.signature(cls).parameters[param].kind is inspect.Parameter.VAR_KEYWORD:
            named.update(value)
        else:
            named[param] = value
    check_jsonable(named, f"constructor arguments of agent {agent.name!r}")
    spec.by_import.class_path = f"{cls.__module__}:{cls.__qualname__}"
    spec.by_import.kwargs_json = json.dumps(named)
    return spec
