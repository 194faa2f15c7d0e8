"""A plain grpcio unary echo server: the baseline agentnb's round trip is compared with."""

from __future__ import annotations

import sys
from concurrent import futures

import grpc

METHOD = "/bench.Echo/Echo"


def main() -> None:
    handler = grpc.method_handlers_generic_handler(
        "bench.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(lambda request, context: request)}
    )
    server = grpc.server(futures.ThreadPoolExecutor(4), handlers=[handler])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    sys.stdin.read()  # until the benchmark closes our stdin
    server.stop(0)


if __name__ == "__main__":
    main()
