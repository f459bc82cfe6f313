"""A real webhook receiver for tests: an HTTP server on a free loopback port, in a thread.

It answers ``fail_status`` to the first ``fail_first`` tries of each idempotency key, and
``hopeless_status`` to every try of the actions ``hopeless`` picks until :attr:`Receiver.recovered`
is set; then 204. It keeps
every request, so tests count deliveries by idempotency key.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson


@dataclass(frozen=True)
class Received:
    key: str
    attempt: int
    action_id: str
    body: bytes
    signature: str
    status: int


@dataclass
class Receiver:
    fail_first: int = 0
    fail_status: int = 503
    hopeless: Callable[[dict[str, Any]], bool] = lambda action: False
    hopeless_status: int = 503
    recovered: bool = False
    delay: float = 0.0  # seconds before each answer (a slow receiver: requests in flight)
    requests: list[Received] = field(default_factory=list)
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, key: str, attempt: int, body: bytes, signature: str) -> int:
        with self._lock:
            tries = sum(1 for r in self.requests if r.key == key)
            action = orjson.loads(body)
            if not self.recovered and self.hopeless(action):
                status = self.hopeless_status
            else:
                status = self.fail_status if tries < self.fail_first else 204
            self.requests.append(Received(key, attempt, action["action_id"], body, signature,
                                          status))
            return status

    def delivered(self) -> Counter[str]:
        """Accepted requests (2xx) per idempotency key."""
        with self._lock:
            return Counter(r.key for r in self.requests if r.status < 300)

    def tries(self) -> Counter[str]:
        with self._lock:
            return Counter(r.key for r in self.requests)


@contextmanager
def running_receiver(receiver: Receiver) -> Iterator[Receiver]:
    """Serve ``receiver`` at ``receiver.url`` until the block ends."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            time.sleep(receiver.delay)
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = receiver.answer(self.headers.get("Idempotency-Key", ""),
                                     int(self.headers.get("X-Kairos-Attempt", "0")), body,
                                     self.headers.get("X-Kairos-Signature", ""))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

    class Server(ThreadingHTTPServer):
        request_queue_size = 256  # every concurrent try gets in (the default backlog is 5)

    server = Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/kairos"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
