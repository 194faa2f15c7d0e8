"""The operations that make a mesh's agents on a server: the class once, the names as a pattern.

A server that accepts code gets the class shipped once (``DefineClass``, as
for single agents) and the constructor arguments pickled; one that does not
gets an import path and the arguments as JSON, which must then be JSON data.
"""

from __future__ import annotations

import json
from typing import Any

import cloudpickle

from .._core._errors import CodeNotAcceptedError, MessageError
from .._core._message import check_jsonable
from .._proto import agentnb_pb2 as pb
from ._recipe import Recipe, importable, source_hash


def create_mesh_op(
    recipe: Recipe,
    mesh: str,
    names: str | list[str],
    first: int,
    count: int,
    overrides: dict[int, dict[str, Any]],
    accepts_code: bool,
    address: str,
    replace: bool,
) -> tuple[pb.Op, str | None]:
    """The CreateMesh operation for agents ``first`` .. ``first + count - 1`` of a mesh on one
    server, and the key of the class to ship there first (None: built by import path)."""
    cls = recipe.cls
    op = pb.Op()
    create = op.create_mesh
    create.mesh, create.first, create.count, create.replace = mesh, first, count, replace
    if isinstance(names, str):
        create.name_pattern = names
    else:
        create.names.extend(names[first : first + count])
    mine = {i: kw for i, kw in overrides.items() if first <= i < first + count}
    if accepts_code:  # the class is shipped, the arguments pickled (as for one agent)
        single, key = recipe.create_op(address, True, replace, False)
        create.spec.CopyFrom(single.create.spec)
        create.overrides = _pickle(mine, mesh, address) if mine else b""
        return op, key
    spec = create.spec
    spec.name, spec.class_name = mesh, cls.__qualname__
    spec.source_hash, spec.fingerprint = source_hash(cls), recipe.fingerprint
    if not importable(cls) or recipe.args:
        raise CodeNotAcceptedError(
            f"mesh {mesh!r} cannot be made on the server at {address}: it does not accept code, so "
            f"class {cls.__qualname__} must be importable there (defined in a module, not in "
            f"{cls.__module__}) and its arguments given by keyword (kwargs=...)"
        )
    check_jsonable(recipe.kwargs, f"the constructor arguments of mesh {mesh!r}")
    for i, kwargs in mine.items():
        check_jsonable(kwargs, f"the constructor arguments of agent {i} of mesh {mesh!r}")
    spec.by_import.class_path = f"{cls.__module__}:{cls.__qualname__}"
    spec.by_import.kwargs_json = json.dumps(recipe.kwargs)
    create.overrides = json.dumps({str(i): kw for i, kw in mine.items()}).encode() if mine else b""
    return op, None


def _pickle(value: Any, mesh: str, address: str) -> bytes:
    try:
        return bytes(cloudpickle.dumps(value))
    except Exception as exc:
        raise MessageError(
            f"cannot ship mesh {mesh!r} to {address}: its constructor arguments cannot be pickled "
            f"({type(exc).__name__}: {exc})"
        ) from exc


def delete_mesh_op(mesh: str) -> pb.Op:
    return pb.Op(delete=pb.DeleteAgentRequest(name=mesh, mesh=True))
