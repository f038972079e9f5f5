"""An HTTPS server that answers one byte at a time (internal to the test lab).

    cert = lab.ca.issue(['slow.example.test'])
    server = SlowHttpsServer('127.77.0.120', cert, drip='headers')   # or drip='body'
    server.start(); ...; server.stop()

Real TLS with a certificate of the lab CA, chosen like any server's. Every request gets
`200 OK` with a small JSON body (under the engine's 50 KiB cap); with `drip='headers'` the
whole response, status line first, is sent one byte per `interval` seconds; with
`drip='body'` the headers come at once and the body one byte per `interval`. Each byte comes
well within any per-read socket timeout, so only an overall deadline ends the request. A
connection is dropped after `lifetime` seconds, when the client goes away, or on stop().
`requests` lists `(path, host)` of every request received.
"""

from __future__ import annotations

import select
import socket
import ssl
import threading
import time

from .ca import Certificate

DOCUMENT = b'{"m.server": "never-complete.invalid:443", "versions": ["v1.11"]}' + b' ' * 1000


class SlowHttpsServer:
    """Serves HTTPS on `address`:`port`, one byte per `interval` seconds."""

    def __init__(self, address: str, cert: Certificate, *, port: int = 443, drip: str = 'headers',
                 interval: float = 1.0, lifetime: float = 120.0, body: bytes = DOCUMENT):
        if drip not in ('headers', 'body'):
            raise ValueError(f'drip must be headers or body, not {drip!r}')
        self.address = address
        self.port = port
        self.drip = drip
        self.interval = interval
        self.lifetime = lifetime
        self.body = body
        self.requests: list[tuple[str, str]] = []
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(str(cert.cert_path), str(cert.key_path))
        family = socket.AF_INET6 if ':' in address else socket.AF_INET
        self._listener = socket.socket(family, socket.SOCK_STREAM)
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def start(self) -> SlowHttpsServer:
        """Bind and start accepting connections."""
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((self.address, self.port))
        self._listener.listen(64)
        self._spawn(self._accept_loop, 'slow-https-accept')
        return self

    def _spawn(self, target, name, *args) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            readable, _w, _x = select.select([self._listener], [], [], 0.2)
            if not readable:
                continue
            try:
                connection, _peer = self._listener.accept()
            except OSError:
                continue
            self._spawn(self._serve, 'slow-https-connection', connection)

    def _serve(self, raw: socket.socket) -> None:
        started = time.monotonic()
        raw.settimeout(10)
        try:
            with self._context.wrap_socket(raw, server_side=True) as tls:
                request = b''
                while b'\r\n\r\n' not in request and len(request) < 65536:
                    chunk = tls.recv(4096)
                    if not chunk:
                        return
                    request += chunk
                self._record(request)
                head = (b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n'
                        b'Content-Length: %d\r\n\r\n' % len(self.body))
                if self.drip == 'body':
                    tls.sendall(head)
                    trickle = self.body
                else:
                    trickle = head + self.body
                for byte in trickle:
                    if self._stopping.is_set() or time.monotonic() - started > self.lifetime:
                        return
                    tls.sendall(bytes([byte]))
                    self._stopping.wait(self.interval)
        except (OSError, ssl.SSLError):
            pass  # the client gave up (what the tests expect), or a failed handshake
        finally:
            raw.close()

    def _record(self, request: bytes) -> None:
        lines = request.decode('latin-1').split('\r\n')
        parts = lines[0].split()
        path = parts[1] if len(parts) > 1 else ''
        host = next((line.split(':', 1)[1].strip() for line in lines[1:]
                     if line.lower().startswith('host:')), '')
        with self._lock:
            self.requests.append((path, host))

    def stop(self) -> None:
        """Stop accepting, end every connection, wait for the threads."""
        self._stopping.set()
        self._listener.close()
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(15)
