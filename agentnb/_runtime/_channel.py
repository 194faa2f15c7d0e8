"""gRPC channel and server options: sizes, reconnects, and the one keepalive policy.

Keepalive is designed for both ends at once, because a server that sees
pings more often than it permits closes the connection with
``GOAWAY ENHANCE_YOUR_CALM too_many_pings`` (that is how idle sessions used to
lose their live channel after about a minute):

* **Clients** ping every ``CLIENT_PING_S`` seconds, with or without calls in
  flight, so a dead server or network is noticed even in a quiet session, and
  wait ``PING_TIMEOUT_S`` seconds for the answer.
* **Servers** permit pings without calls, from every ``SERVER_MIN_PING_S``
  seconds on (well under the clients' interval), and never count strikes
  (``max_ping_strikes`` 0): no ping pattern ends a connection.
* **Servers** ping their clients every ``SERVER_PING_S`` seconds, so a driver
  that vanished without closing its connection (a killed laptop) releases
  its streams.

TLS: a channel given :class:`agentnb.TLS` settings checks the server's
certificate against their CA (``ssl_channel_credentials``); the host name or
IP address of the target must be named in the certificate. A server given a
certificate and key serves TLS only.

Reconnects are quick: a channel that lost its server tries again after 0.1 s,
backing off to at most ``MAX_BACKOFF_S``, and calls wait for the connection
(``wait_for_ready``) within their deadline instead of failing at once, so a
launcher that restarts is used again within a second of being back.
"""

from __future__ import annotations

import grpc  # GRPC_VERBOSITY is set before any grpc import: see agentnb/_runtime/__init__.py

from .._core._config import Limits
from .._core._tls import TLS

CLIENT_PING_S = 30
PING_TIMEOUT_S = 10
SERVER_MIN_PING_S = 10
SERVER_PING_S = 60
MAX_BACKOFF_S = 1
#: Room for the envelope around the largest message.
ENVELOPE_BYTES = 64 * 1024
#: Concurrent RPCs one connection may have open on a server (more wait in the client).
STREAMS_PER_CONNECTION = 1000


def _sizes(limits: Limits) -> list[tuple[str, int | str]]:
    size = limits.max_message_bytes + ENVELOPE_BYTES
    return [("grpc.max_send_message_length", size), ("grpc.max_receive_message_length", size)]


def client_options(limits: Limits) -> list[tuple[str, int | str]]:
    return _sizes(limits) + [
        ("grpc.enable_http_proxy", 0),
        ("grpc.keepalive_time_ms", CLIENT_PING_S * 1000),
        ("grpc.keepalive_timeout_ms", PING_TIMEOUT_S * 1000),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
        ("grpc.initial_reconnect_backoff_ms", 100),
        ("grpc.min_reconnect_backoff_ms", 100),
        ("grpc.max_reconnect_backoff_ms", MAX_BACKOFF_S * 1000),
        # one connection per channel, never shared with another channel of this process
        ("grpc.use_local_subchannel_pool", 1),
    ]


def server_options(limits: Limits) -> list[tuple[str, int | str]]:
    return _sizes(limits) + [
        ("grpc.so_reuseport", 0),
        ("grpc.keepalive_time_ms", SERVER_PING_S * 1000),
        ("grpc.keepalive_timeout_ms", PING_TIMEOUT_S * 1000),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_recv_ping_interval_without_data_ms", SERVER_MIN_PING_S * 1000),
        ("grpc.http2.max_ping_strikes", 0),
        ("grpc.http2.max_pings_without_data", 0),
        ("grpc.max_concurrent_streams", STREAMS_PER_CONNECTION),
    ]


def aio_channel(address: str, limits: Limits, tls: TLS | None = None) -> grpc.aio.Channel:
    if tls is None:
        return grpc.aio.insecure_channel(address, options=client_options(limits))
    return grpc.aio.secure_channel(address, channel_credentials(tls), options=client_options(limits))


def sync_channel(address: str, limits: Limits, tls: TLS | None = None) -> grpc.Channel:
    if tls is None:
        return grpc.insecure_channel(address, options=client_options(limits))
    return grpc.secure_channel(address, channel_credentials(tls), options=client_options(limits))


def channel_credentials(tls: TLS) -> grpc.ChannelCredentials:
    """Credentials that trust ``tls``'s CA (its certificate if no CA, else the system's roots)."""
    return grpc.ssl_channel_credentials(root_certificates=tls.root_certificates())


def server_credentials(tls: TLS) -> grpc.ServerCredentials:
    """Credentials a server presents: its certificate and key (no client certificates)."""
    return grpc.ssl_server_credentials([tls.server_pair()])
