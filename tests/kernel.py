"""A real Jupyter kernel for tests: run cells, collect every output by cell, even late ones."""

from __future__ import annotations

import os
import queue
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from jupyter_client.manager import KernelManager

HERE = os.path.dirname(os.path.abspath(__file__))
#: The iopub messages kept as a cell's outputs (displays' in-place updates too).
OUTPUTS = ("stream", "error", "execute_result", "display_data", "update_display_data")


@dataclass
class Cell:
    """One executed cell: its reply and the outputs seen for it so far."""

    msg_id: str
    reply: dict[str, Any]
    outputs: list[dict[str, Any]] = field(default_factory=list)
    #: how many of the outputs had arrived when the kernel went idle after the cell
    at_idle: int | None = None

    @property
    def stdout_before_idle(self) -> str:
        assert self.at_idle is not None, "the cell has not gone idle"
        return "".join(
            o["content"]["text"] for o in self.outputs[: self.at_idle]
            if o["msg_type"] == "stream" and o["content"]["name"] == "stdout"
        )  # fmt: skip

    @property
    def stdout(self) -> str:
        return "".join(
            o["content"]["text"] for o in self.outputs
            if o["msg_type"] == "stream" and o["content"]["name"] == "stdout"
        )  # fmt: skip

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [o["content"] for o in self.outputs if o["msg_type"] == "error"]

    def value(self) -> str:
        """The text/plain result of the cell's last expression."""
        for o in self.outputs:
            if o["msg_type"] == "execute_result":
                return o["content"]["data"]["text/plain"]
        raise AssertionError(f"cell had no result; outputs: {self.outputs}")


class Kernel:
    """An ipykernel in its own process, started with tests/ on its path."""

    def __init__(self, timeout: float = 60) -> None:
        self.km = KernelManager(kernel_name="python3")
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([HERE, os.environ.get("PYTHONPATH", "")]))
        self.km.start_kernel(cwd=HERE, env=env)
        self.kc = self.km.blocking_client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=timeout)
        self._outputs: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._idle: dict[str, threading.Event] = defaultdict(threading.Event)
        self._at_idle: dict[str, int] = {}
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.km.provisioner.process.pid  # type: ignore[union-attr]

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                msg = self.kc.get_iopub_msg(timeout=0.2)
            except queue.Empty:
                continue
            except Exception:  # noqa: BLE001 - channels closed at shutdown
                return
            parent = msg.get("parent_header", {}).get("msg_id", "")
            with self._changed:
                if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                    self._at_idle.setdefault(parent, len(self._outputs[parent]))
                    self._idle[parent].set()
                elif msg["msg_type"] in OUTPUTS:
                    self._outputs[parent].append(msg)
                self._changed.notify_all()

    def execute(self, code: str, timeout: float = 60, allow_errors: bool = False) -> Cell:
        """Run a cell and wait until the kernel is idle again."""
        msg_id = self.kc.execute(code)
        reply = self.kc.get_shell_msg(timeout=timeout)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = self.kc.get_shell_msg(timeout=timeout)
        assert self._idle[msg_id].wait(timeout), f"cell did not finish within {timeout} s:\n{code}"
        cell = Cell(msg_id, reply["content"], self._outputs[msg_id], self._at_idle[msg_id])
        if not allow_errors:
            assert reply["content"]["status"] == "ok", f"cell failed: {cell.errors}\n{code}"
        return cell

    def submit(self, code: str) -> str:
        """Start a cell without waiting; returns its msg_id."""
        return self.kc.execute(code)

    def wait_started(self, msg_id: str) -> Cell:
        """A view of a submitted cell's outputs (to wait on with :meth:`wait_for_output`)."""
        return Cell(msg_id, {}, self._outputs[msg_id])

    def wait_idle(self, msg_id: str, timeout: float = 60) -> Cell:
        assert self._idle[msg_id].wait(timeout), f"cell {msg_id} did not finish within {timeout} s"
        return Cell(msg_id, {}, self._outputs[msg_id], self._at_idle[msg_id])

    def wait_for_output(self, cell: Cell, text: str, timeout: float = 30) -> None:
        """Wait until ``text`` appears in a cell's stdout (output may arrive after the cell ended)."""
        with self._changed:
            assert self._changed.wait_for(lambda: text in cell.stdout, timeout), (
                f"{text!r} not in the cell's output within {timeout} s: {cell.stdout!r}"
            )

    def shutdown(self, now: bool = False) -> None:
        self._stop.set()
        self.kc.stop_channels()
        if self.km.is_alive():
            self.km.shutdown_kernel(now=now)
