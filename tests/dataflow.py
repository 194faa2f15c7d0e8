"""The seed's six-agent dataflow A->B, A->C, B->D, C->D, E->F, D->F, written as sequential calls."""

from __future__ import annotations

from typing import Any


def seed_dataflow(A: Any, B: Any, C: Any, D: Any, E: Any, F: Any) -> dict[str, Any]:
    """Make the six calls (they return at once); the placeholders by agent name."""
    a = A()
    b, c = B(a), C(a)  # B and C run at the same time
    d = D([b, c])
    e = E()  # E does not wait for A..D
    f = F([e, d])
    return {"A": a, "B": b, "C": c, "D": d, "E": e, "F": f}
