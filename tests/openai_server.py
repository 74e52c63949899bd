"""A small scripted OpenAI-compatible chat server for tests (stdlib only).

    with ScriptedServer() as srv:                       # 127.0.0.1, a free port
        srv.script = [reply("```python\\nprint(1)\\n```"), error(429), reply("done")]
        ... litellm.acompletion(model="openai/scripted", api_base=srv.api_base, ...)
        srv.requests  # every request body, in order (with its headers under "_headers")

Serves `POST /v1/chat/completions` and `GET /v1/models`. Each request takes the next item of
`script`; when the script is empty, `responder(body)` (if set) answers; else a plain "OK".
An item is a dict:
- `{"content": str}` or `{"tool_calls": [{"code": str}], "content": ...}`: a normal answer
- `{"status": 429 | 500 | ..., "retry_after": s}`: an error response
- `{"raw": {...}}`: this JSON body verbatim with status 200 (e.g. `{"choices": []}`)
- `{"sleep": seconds, ...}`: wait first (to trigger client timeouts), then answer the rest
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def reply(content: str = "", **extra: Any) -> dict[str, Any]:
    return {"content": content, **extra}


def tool_call(code: str, content: str = "", call_id: str | None = None) -> dict[str, Any]:
    return {"content": content, "tool_calls": [{"code": code, "id": call_id}]}


def error(status: int, message: str = "scripted error", retry_after: float | None = None):
    return {"status": status, "message": message, "retry_after": retry_after}


class ScriptedServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.script: list[dict[str, Any]] = []
        self.responder: Callable[[dict[str, Any]], dict[str, Any]] | None = None
        self.requests: list[dict[str, Any]] = []
        self.calls = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _send(self, status: int, body: dict[str, Any],
                      headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    self._send(200, {"object": "list", "data": [
                        {"id": "scripted", "object": "model", "owned_by": "tests"}]})
                else:
                    self._send(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b"{}"
                try:
                    body = json.loads(raw)
                except ValueError:
                    self._send(400, {"error": {"message": "bad json"}})
                    return
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                body["_headers"] = {k.lower(): v for k, v in self.headers.items()}
                with server._lock:
                    server.requests.append(body)
                    server.calls += 1
                    item = server.script.pop(0) if server.script else None
                if item is None:
                    item = server.responder(body) if server.responder else {"content": "OK"}
                if item.get("sleep"):
                    time.sleep(item["sleep"])
                if "raw" in item:  # a verbatim 200 body (malformed replies)
                    self._send(200, item["raw"])
                    return
                if item.get("status"):
                    headers = {}
                    if item.get("retry_after") is not None:
                        headers["Retry-After"] = str(item["retry_after"])
                    self._send(item["status"], {"error": {
                        "message": item.get("message", "error"), "type": "scripted",
                        "code": item["status"]}}, headers)
                    return
                self._send(200, completion(body, item))

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> ScriptedServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _words(messages: list[dict[str, Any]]) -> int:
    total = 0
    for m in messages:
        content = m.get("content")
        if isinstance(content, list):
            content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
        total += len(str(content or "").split())
    return total


def completion(body: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI chat.completion object for a scripted item."""
    message: dict[str, Any] = {"role": "assistant", "content": item.get("content") or None}
    finish = "stop"
    if item.get("tool_calls"):
        message["tool_calls"] = [
            {"id": call.get("id") or f"call_{i}_{int(time.time() * 1000) % 100000}",
             "type": "function",
             "function": {"name": call.get("name", "python"),
                          "arguments": call.get("arguments") or json.dumps({"code": call["code"]})}}
            for i, call in enumerate(item["tool_calls"])]
        finish = "tool_calls"
    prompt_tokens = item.get("prompt_tokens", _words(body.get("messages", [])))
    completion_tokens = item.get("completion_tokens",
                                 len(str(item.get("content") or "").split()) + 5)
    return {"id": f"chatcmpl-{int(time.time() * 1e6)}", "object": "chat.completion",
            "created": int(time.time()), "model": body.get("model", "scripted"),
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens}}
