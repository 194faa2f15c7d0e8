"""Generated protobuf/gRPC stubs (scripts/gen_protos.py). Never edit by hand.

Only the transport imports this package: ``agentnb._runtime._client`` and
``agentnb._runtime._codec`` on the driver side, ``agentnb.server`` on the
server side.
"""
