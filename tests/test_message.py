from __future__ import annotations

import pytest

from agentnb import MessageError, MessageTooLargeError, Msg
from agentnb._runtime._codec import decode_msg, encode_msg


def test_a_message_has_an_id_and_a_timestamp() -> None:
    m = Msg("user", "hi")
    assert len(m.id) == 32 and m.timestamp > 0 and m.role == "assistant"
    assert Msg("user", "hi").id != m.id


@pytest.mark.parametrize(
    "content", ["text", 3, 2.5, True, None, [1, "two", None], {"a": {"b": [1, 2]}}, b"\x00\xffraw"]
)
def test_json_compatible_content_and_bytes_survive_the_wire(content) -> None:
    m = Msg("A", content, "user", url=["http://x"], metadata={"k": 1})
    back = decode_msg(encode_msg(m, 1 << 20))
    assert back == m


def test_content_that_json_cannot_carry_is_named_by_its_path() -> None:
    with pytest.raises(MessageError, match=r"content\['a'\]\[1\] is a set"):
        encode_msg(Msg("A", {"a": [1, {2}]}), 1 << 20)
    with pytest.raises(MessageError, match="non-string key 1"):
        encode_msg(Msg("A", {1: "x"}), 1 << 20)
    with pytest.raises(MessageError, match="cannot be encoded as JSON"):
        encode_msg(Msg("A", float("nan")), 1 << 20)


def test_a_message_over_the_limit_says_how_big_it_is() -> None:
    with pytest.raises(MessageTooLargeError, match=r"is 1,\d{3} bytes encoded, over the limit of 1,000"):
        encode_msg(Msg("A", "x" * 1000), 1000)
