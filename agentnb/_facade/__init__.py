"""The facade: what cells and scripts use (``AgentBase``, ``to_dist``, placeholders, status).

Sync code on top of the runtime: it never speaks gRPC or imports the stubs.
A server loads ``_agent`` (the base class of the agents it hosts), and the
rest only when an agent there distributes or calls another agent.
"""
