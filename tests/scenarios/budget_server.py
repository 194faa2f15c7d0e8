"""A launcher with the given limits, hosting an agent and a "Sizes" agent that reports on the server.

Run by tests/test_exhaustion.py and tests/test_fuzz.py:
``python budget_server.py LIMITS_JSON TOKEN [module:Class NAME]`` (default: a
``Flood`` agent "F"). Prints its port, then serves until stopped. The agent
named ``SIZES`` reports what the server holds (result store and event log
bytes, agents, and this process's memory), so tests can check its budgets
from outside.
"""

from __future__ import annotations

import json
import sys

from agentnb import AgentBase, Limits, Msg, RpcAgentServerLauncher
from agentnb._proto import agentnb_pb2 as pb

#: The name of the agent that reports sizes (one no fuzzer would make up).
SIZES = "sizes-0d9f"


def memory_kib() -> dict[str, int]:
    with open("/proc/self/status") as f:
        fields = dict(line.split(":", 1) for line in f if ":" in line)
    return {key: int(fields[key].split()[0]) for key in ("VmRSS", "VmHWM")}


def main() -> None:
    limits, token = Limits(**json.loads(sys.argv[1])), sys.argv[2]
    agent_class, name = (sys.argv[3], sys.argv[4]) if len(sys.argv) > 4 else ("agents:Flood", "F")
    launcher = RpcAgentServerLauncher(
        agent_class, {"name": name}, host="127.0.0.1", token=token, limits=limits
    )

    class Sizes(AgentBase):
        def reply(self, x=None):
            host = launcher._server.host
            return Msg(
                self.name,
                {"store_bytes": host.store.bytes, "results": len(host.store), "waiters": host.store.waiters(),
                 "event_bytes": host.bus._bytes, "events": len(host.bus._log), "agents": len(host.actors),
                 **memory_kib()},
            )  # fmt: skip

    launcher.launch()
    launcher._server.host.add(SIZES, Sizes(SIZES), pb.AgentSpec(name=SIZES, class_name="Sizes"))
    print(launcher.port, flush=True)
    launcher.wait_until_terminate()


if __name__ == "__main__":
    main()
