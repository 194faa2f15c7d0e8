"""The agent server process: ``python -m agentnb.server``, and launchers.

Code here runs on servers. It never imports the notebook layer.
"""

from ._launcher import RpcAgentServerLauncher

__all__ = ["RpcAgentServerLauncher"]
