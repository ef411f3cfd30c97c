"""A small SMTP server on 127.0.0.1 for the SMTP backend's tests (never a real network).

It speaks enough of RFC 5321 for ``smtplib``: the greeting, EHLO/HELO, STARTTLS (with a
self-signed certificate made here), AUTH PLAIN/LOGIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT; TLS
from the first byte (``implicit_tls``); and misbehaviours: ``silent`` (accepts the connection and
never greets), ``trickle`` (greets one byte at a time) and ``refuse_rcpt``. It records every command and every accepted message.
"""

from __future__ import annotations

import base64
import datetime as dt
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def make_certificate(directory: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A self-signed certificate for ``host`` (as an IP address SAN and a DNS name): (cert, key)."""
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test smtp server")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host)),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@dataclass
class Received:
    mail_from: str
    rcpt_to: list[str]
    data: bytes
    tls: bool
    user: str | None


@dataclass
class SmtpServer:
    port: int
    messages: list[Received] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    connections: int = 0


class _Handler:
    def __init__(self, server: SmtpServer, conn: socket.socket, *, tls_context: ssl.SSLContext | None,
                 implicit_tls: bool, starttls: bool, credentials: tuple[str, str] | None, refuse_rcpt: bool) -> None:
        self.server, self.conn = server, conn
        self.tls_context, self.starttls_offered = tls_context, starttls
        self.credentials, self.refuse_rcpt = credentials, refuse_rcpt
        self.tls = False
        self.user: str | None = None
        if implicit_tls:
            assert tls_context is not None
            self.conn = tls_context.wrap_socket(conn, server_side=True)
            self.tls = True
        self.reader = self.conn.makefile("rb")

    def close(self) -> None:
        self.reader.close()
        self.conn.close()

    def send(self, line: str) -> None:
        self.conn.sendall(line.encode() + b"\r\n")

    def readline(self) -> str:
        raw = self.reader.readline(65536)
        if not raw:
            raise ConnectionError("client went away")
        return raw.decode("utf-8", "replace").rstrip("\r\n")

    def run(self) -> None:
        self.send("220 test.smtp ESMTP ready")
        mail_from: str | None = None
        rcpts: list[str] = []
        while True:
            line = self.readline()
            verb, _, arg = line.partition(" ")
            verb = verb.upper()
            self.server.commands.append(verb if verb != "AUTH" else "AUTH " + arg.split(" ")[0].upper())
            if verb in ("EHLO", "HELO"):
                extensions = ["8BITMIME", "SMTPUTF8"]
                if self.starttls_offered and not self.tls and self.tls_context is not None:
                    extensions.append("STARTTLS")
                if self.credentials is not None:
                    extensions.append("AUTH PLAIN LOGIN")
                self.send("250-test.smtp greets you")
                for ext in extensions[:-1]:
                    self.send(f"250-{ext}")
                self.send(f"250 {extensions[-1]}")
            elif verb == "STARTTLS" and self.tls_context is not None and not self.tls:
                self.send("220 go ahead")
                self.conn = self.tls_context.wrap_socket(self.conn, server_side=True)
                self.reader = self.conn.makefile("rb")
                self.tls = True
            elif verb == "AUTH":
                self._auth(arg)
            elif verb == "MAIL":
                mail_from, rcpts = arg.partition(":")[2].strip(), []
                self.send("250 OK")
            elif verb == "RCPT":
                if self.refuse_rcpt:
                    self.send("550 5.1.1 no such mailbox here")
                else:
                    rcpts.append(arg.partition(":")[2].strip())
                    self.send("250 OK")
            elif verb == "DATA":
                self.send("354 end with <CRLF>.<CRLF>")
                data = b""
                while not data.endswith(b"\r\n.\r\n"):
                    chunk = self.reader.readline(65536)
                    if not chunk:
                        raise ConnectionError("client went away")
                    data += chunk
                self.server.messages.append(Received(mail_from or "", rcpts, data[:-5], self.tls, self.user))
                self.send("250 OK queued")
            elif verb in ("RSET", "NOOP"):
                self.send("250 OK")
            elif verb == "QUIT":
                self.send("221 bye")
                return
            else:
                self.send("502 not implemented")

    def _auth(self, arg: str) -> None:
        mechanism, _, initial = arg.partition(" ")
        if mechanism.upper() == "PLAIN":
            if not initial:
                self.send("334 ")
                initial = self.readline()
            parts = base64.b64decode(initial).split(b"\0")
            user, password = parts[1].decode(), parts[2].decode()
        elif mechanism.upper() == "LOGIN":
            self.send("334 VXNlcm5hbWU6")
            user = base64.b64decode(self.readline()).decode()
            self.send("334 UGFzc3dvcmQ6")
            password = base64.b64decode(self.readline()).decode()
        else:
            self.send("504 unknown mechanism")
            return
        if self.credentials == (user, password):
            self.user = user
            self.send("235 authenticated")
        else:
            self.send("535 5.7.8 authentication failed")


@contextmanager
def smtp_server(*, tls_files: tuple[Path, Path] | None = None, implicit_tls: bool = False, starttls: bool = True,
                credentials: tuple[str, str] | None = None, silent: bool = False, trickle: bool = False,
                refuse_rcpt: bool = False) -> Iterator[SmtpServer]:
    tls_context = None
    if tls_files is not None:
        tls_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls_context.load_cert_chain(*tls_files)
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.05)
    server = SmtpServer(port=listener.getsockname()[1])
    stop = threading.Event()

    def serve_one(conn: socket.socket) -> None:
        handler = None
        try:
            conn.settimeout(30)
            if silent:
                stop.wait(30)
                return
            if trickle:  # a greeting one byte every 0.2 s: 20 s in all, each byte well in time
                for byte in b"220 " + b"s" * 96 + b"\r\n":
                    if stop.wait(0.2):
                        return
                    conn.sendall(bytes([byte]))
                return
            handler = _Handler(server, conn, tls_context=tls_context, implicit_tls=implicit_tls, starttls=starttls,
                               credentials=credentials, refuse_rcpt=refuse_rcpt)
            handler.run()
        except (OSError, ConnectionError, ValueError, IndexError):
            pass
        finally:
            if handler is not None:  # after STARTTLS the handler holds the TLS socket
                handler.close()
            conn.close()

    def accept_loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            server.connections += 1
            threading.Thread(target=serve_one, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept_loop, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        listener.close()
        thread.join(timeout=5)


def trusting_context(cert_path: Path) -> ssl.SSLContext:
    """A client context that trusts the test certificate (and nothing else)."""
    context = ssl.create_default_context(cafile=str(cert_path))
    return context
