"""A launcher with small byte budgets, hosting a ``Flood`` agent "F" and a "Sizes" agent "S".

Run by tests/test_exhaustion.py: ``python budget_server.py LIMITS_JSON TOKEN``.
Prints its port, then serves until stopped. "S" reports what the server holds
(result store and event log bytes, and this process's memory), so the test
can check the budgets from outside.
"""

from __future__ import annotations

import json
import sys

from agents import Flood

from agentnb import AgentBase, Limits, Msg, RpcAgentServerLauncher
from agentnb._proto import agentnb_pb2 as pb


def memory_kib() -> dict[str, int]:
    with open("/proc/self/status") as f:
        fields = dict(line.split(":", 1) for line in f if ":" in line)
    return {key: int(fields[key].split()[0]) for key in ("VmRSS", "VmHWM")}


def main() -> None:
    limits, token = Limits(**json.loads(sys.argv[1])), sys.argv[2]
    launcher = RpcAgentServerLauncher(Flood, {"name": "F"}, host="127.0.0.1", token=token, limits=limits)

    class Sizes(AgentBase):
        def reply(self, x=None):
            host = launcher._server.host
            return Msg(
                self.name,
                {"store_bytes": host.store.bytes, "results": len(host.store),
                 "event_bytes": host.bus._bytes, "events": len(host.bus._log), **memory_kib()},
            )  # fmt: skip

    launcher.launch()
    launcher._server.host.add("S", Sizes("S"), pb.AgentSpec(name="S", class_name="Sizes"))
    print(launcher.port, flush=True)
    launcher.wait_until_terminate()


if __name__ == "__main__":
    main()
