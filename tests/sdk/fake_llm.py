"""A scripted fake OpenAI-compatible chat backend for the SDK suite.

It stands in for the model (outside our system): it records every request body
and answers each with the next scripted reply, streamed as chat-completion
chunks. With nothing scripted it answers ``DEFAULT_ANSWER``.

Reply forms (dicts):
  {"text": ["Hel", "lo"]}                       text chunks, then stop + usage
  {"tool_calls": [{"id", "name", "arguments": ["{", "}"]}]}
  {"error": 500, "message": "..."}              an HTTP error
  {"sleep": 2.0, ...}                           pause between chunks (seconds)
  {"finish": "length", ...}                     the finish reason (default stop / tool_calls)
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULT_ANSWER = ["Hello", " from", " the", " fake", " model."]


class FakeLLM:
    def __init__(self) -> None:
        self.replies: deque[dict] = deque()
        self.requests: list[dict] = []
        # answered when nothing is scripted
        self.default: dict = {"text": DEFAULT_ANSWER}
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("content-length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                with fake.lock:
                    fake.requests.append(body)
                    reply = fake.replies.popleft() if fake.replies else fake.default
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self.send_response(404)
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                if "error" in reply:
                    payload = json.dumps({"error": {"message": reply.get("message", "fake error"), "type": "server_error"}}).encode()
                    self.send_response(int(reply["error"]))
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("connection", "close")
                self.end_headers()
                pause = float(reply.get("sleep", 0))
                try:
                    for chunk in fake._chunks(reply):
                        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                        self.wfile.flush()
                        if pause:
                            time.sleep(pause)
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    @staticmethod
    def _chunk(delta: dict, finish: str | None = None) -> dict:
        return {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": "fake",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    def _chunks(self, reply: dict):
        pieces = 0
        for t in reply.get("text", []):
            pieces += 1
            yield self._chunk({"content": t})
        for i, call in enumerate(reply.get("tool_calls", [])):
            yield self._chunk({"tool_calls": [{"index": i, "id": call["id"], "type": "function",
                                               "function": {"name": call["name"], "arguments": ""}}]})
            for frag in call.get("arguments", []):
                pieces += 1
                yield self._chunk({"tool_calls": [{"index": i, "function": {"arguments": frag}}]})
        yield self._chunk({}, reply.get("finish") or ("tool_calls" if reply.get("tool_calls") else "stop"))
        yield {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": "fake", "choices": [],
               "usage": {"prompt_tokens": 10, "completion_tokens": pieces, "total_tokens": 10 + pieces}}

    def script(self, *replies: dict) -> None:
        with self.lock:
            self.replies.extend(replies)

    def reset(self) -> None:
        with self.lock:
            self.replies.clear()
            self.requests.clear()

    def last_request(self) -> dict:
        with self.lock:
            return self.requests[-1]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
