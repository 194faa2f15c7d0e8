"""A small OpenAI-compatible chat completions server, for tests and for recording without a model.

It speaks the protocol (``POST /v1/chat/completions`` with a JSON body, a
JSON answer with ``choices[0].message.content``; with ``"stream": true``,
server-sent events: one ``data: {chunk}`` per word, ``choices[0].delta.content``,
then ``data: [DONE]``), checks the bearer token if given one, and answers with
:class:`agentnb.chat.RuleModel`: deterministic and offline, it reads each
request's system prompt (a teacher, a student, a debater, a judge) and answers
about the workshop's topics, so a run recorded against it reads as a real
exchange. Its replies are scripted: it is a
stand-in for a model server, not a model.

    python tests/fake_openai.py          # serves on a free port; prints the base URL
"""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from agentnb.chat import RuleModel
from agentnb.chat._model import words

MODEL = "stand-in-model"


class FakeOpenAI:
    """The server, in a thread of this process; a context manager.

    Args:
        api_key: if set, requests must carry ``Authorization: Bearer <api_key>``.
        host: the address to listen on (loopback).
        piece_delay: seconds between two streamed pieces (a model's pace).
    """

    def __init__(self, api_key: str = "", host: str = "127.0.0.1", piece_delay: float = 0.0) -> None:
        self.api_key = api_key
        self.piece_delay = piece_delay
        self.requests: list[dict[str, Any]] = []
        self._model = RuleModel(seed=42)
        self._server = ThreadingHTTPServer((host, 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                if self.path != "/v1/chat/completions":
                    return self._send(404, {"error": {"message": f"no route {self.path}"}})
                if fake.api_key and self.headers.get("Authorization") != f"Bearer {fake.api_key}":
                    return self._send(401, {"error": {"message": "invalid api key"}})
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(body)
                if body.get("model") != MODEL:
                    return self._send(404, {"error": {"message": f"model {body.get('model')!r} not found"}})
                text = fake._model.complete(body["messages"])
                if body.get("stream"):
                    return self._stream(text)
                self._send(200, {"object": "chat.completion", "model": MODEL,
                                 "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                              "finish_reason": "stop"}]})  # fmt: skip

            def _stream(self, text: str) -> None:
                """Server-sent events: a role chunk, one chunk per word, a finish chunk, [DONE]."""
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()  # HTTP/1.0: the stream ends when the connection closes
                deltas = [{"role": "assistant"}] + [{"content": w} for w in words(text)] + [{}]
                for i, delta in enumerate(deltas):
                    if i and delta and fake.piece_delay:
                        time.sleep(fake.piece_delay)  # the pace of a model making tokens
                    finish = None if delta or i == 0 else "stop"
                    chunk = {"object": "chat.completion.chunk", "model": MODEL,
                             "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}  # fmt: skip
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

            def _send(self, status: int, data: dict[str, Any]) -> None:
                payload = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        return Handler

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


if __name__ == "__main__":
    with FakeOpenAI() as fake:
        print(f"OPENAI_BASE_URL={fake.base_url} OPENAI_MODEL={MODEL}", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            sys.exit(0)
