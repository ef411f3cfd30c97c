"""Raw TCP servers on 127.0.0.1 for outbound HTTP tests: scripted answers, redirects, servers
that trickle bytes or never answer, and a count of the connections each one accepted."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Handler = Callable[[socket.socket], None]


class TcpServer:
    """A raw TCP server on 127.0.0.1 that runs ``handler`` per connection and counts them."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.stop = threading.Event()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(30)
            self.handler(conn)
        except OSError:
            pass
        finally:
            conn.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def tcp_server(handler: Handler) -> Iterator[TcpServer]:
    server = TcpServer(handler)
    server.thread.start()
    try:
        yield server
    finally:
        server.stop.set()
        server.sock.close()
        server.thread.join(timeout=5)


def read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def answer(status: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Handler:
    def handle(conn: socket.socket) -> None:
        read_request(conn)
        head = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", "Connection: close"]
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
    return handle


def trickle(stop: threading.Event, prefix: bytes = b"", byte: bytes = b"x", every: float = 0.1,
            total_seconds: float = 30) -> Handler:
    """Answer ``prefix``, then one byte every ``every`` seconds for ``total_seconds``: no
    per-read timeout ever fires."""
    def handle(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(prefix)
        end = time.monotonic() + total_seconds
        while time.monotonic() < end and not stop.is_set():
            conn.sendall(byte)
            time.sleep(every)
    return handle
