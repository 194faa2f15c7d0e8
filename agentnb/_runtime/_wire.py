"""Protobuf framing by hand, for the few places where copying a big message costs too much.

A length-delimited field (strings, bytes, sub-messages) is its tag, its
length and its bytes, so a message that embeds a big, already serialized
one (an outcome, a call with a 10 MiB input) is built by concatenation
instead of a deep copy and a second serialization. The result parses as the
message the .proto describes; tests check the round trip.
"""

from __future__ import annotations


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def header(number: int, length: int) -> bytes:
    """The tag and length of a length-delimited field (its data follows)."""
    return varint((number << 3) | 2) + varint(length)


def field(number: int, data: bytes) -> bytes:
    """A length-delimited field ``number`` holding ``data`` (wire type 2)."""
    return header(number, len(data)) + data


def text(number: int, value: str) -> bytes:
    """A string field (nothing, if empty: proto3 leaves defaults out)."""
    return field(number, value.encode()) if value else b""
