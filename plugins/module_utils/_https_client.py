# Copyright (c) 2026, homeserver.delegation developers
# Simplified BSD License (see https://opensource.org/licenses/BSD-2-Clause)
# SPDX-License-Identifier: BSD-2-Clause

"""The one HTTPS client of the collection: well-known fetches, CORS preflights and federation
probes all go through it.

This module is internal to the homeserver.delegation collection and may change at any time.

Every use is the same: connect to an address already resolved (discovery did the DNS), send
SNI for the name (none when the name is an IP literal, as the specification asks), verify the
certificate for that name or IP address, send ``Host`` for it, read at most a given number of
bytes of each body, and finish the whole exchange (connect, TLS handshake, every request and
body) within one deadline (:class:`~._deadline.RequestDeadline`), whatever a server trickles.

The client is a coroutine of the engine's loop (``_loop``): :func:`ahttps_request` and
:func:`aprobe` on non-blocking sockets, the TLS handshake and every read waiting on the loop
until the deadline; :func:`https_request` and :func:`probe` run them from synchronous code.
The bytes of a response are read up to the end its head announces (``Content-Length``,
chunks, or the server's close, at most ``max_bytes`` of body) and then parsed by
``http.client``, so status line, headers and chunked bodies follow the standard library's
rules.

:func:`https_request`
    One request on a new connection; the certificate must verify. Raises
    :class:`TransportError`. Used for the well-known documents (each redirect hop is one
    call, the caller resolving every new host) and the CORS preflight.
:func:`probe`
    One connection over which several GETs are sent (keep-alive; reconnected with the same
    TLS context when the server closed it in between, as http.client does). The certificate is kept for the report and,
    when verification fails, the handshake is repeated without verification so the report
    can still show what the server presents and answers. Never raises.

Error kinds (``TransportError.kind``, and ``kind``/``error_kind`` in a probe's result), one
set for every use:

============= ==========================================================================
timeout       the deadline passed (connect, handshake, headers or body)
unreachable   no connection (refused, reset, no route) or the connection broke
tls_invalid   the certificate is not trusted or not valid for the name (verification)
tls_handshake the TLS handshake failed otherwise (no common protocol, not TLS at all)
http_error    the answer is not HTTP/1.x (malformed status line or headers)
config        the client could not be set up (CA certificates unreadable)
============= ==========================================================================

A body of ``max_bytes`` bytes or more is cut at ``max_bytes`` and flagged ``too_large``; a
``Content-Length`` above ``max_bytes`` is flagged without reading the body.

Why ssl and http.client and not requests: ``benchmarks/primitives.py`` measured one verified
HTTPS GET of a well-known at 0.83 ms of client CPU on a bare ssl socket with http.client and
1.29 ms through requests (+55 %), the largest share of a name's CPU after the DNS queries;
requests also blocks a thread per request, which the engine's loop does without (see
``_loop``). The probe also needs what requests hides: the peer certificate of a connection
whose verification failed, and a second handshake without verification.
"""

from __future__ import annotations

import http.client
import io
import os.path
import re
import socket
import ssl
from dataclasses import dataclass

from ansible_collections.homeserver.delegation.plugins.module_utils._deadline import RequestDeadline
from ansible_collections.homeserver.delegation.plugins.module_utils._loop import connect, readable, run, writable

USER_AGENT = "homeserver.delegation"


class Headers:
    """Case-insensitive, multi-valued HTTP response headers (order kept)."""

    def __init__(self, items=()):
        if hasattr(items, "items"):
            items = items.items()
        self._items = [(str(name), str(value)) for name, value in items]

    def get_all(self, name):
        """Every value of header ``name`` in the order received."""
        wanted = name.lower()
        return [value for key, value in self._items if key.lower() == wanted]

    def get(self, name, default=None):
        """The last value of header ``name``, or ``default``."""
        values = self.get_all(name)
        return values[-1] if values else default

    def items(self):
        """All ``(name, value)`` pairs in the order received."""
        return list(self._items)

    def to_dict(self):
        """Header names (lower-cased) mapped to their values joined with ", "."""
        merged = {}
        for key, value in self._items:
            key = key.lower()
            merged[key] = merged[key] + ", " + value if key in merged else value
        return merged

    def __contains__(self, name):
        return bool(self.get_all(name))

    def __repr__(self):
        return "Headers(%r)" % (self._items,)


@dataclass
class HttpResponse:
    """An HTTP response as received (redirects are not followed)."""

    url: str
    status: int
    headers: Headers
    body: bytes
    too_large: bool = False
    peer_address: str | None = None


class TransportError(Exception):
    """No HTTP response could be obtained (or the client could not be set up); ``kind`` is one
    of the error kinds of this module."""

    def __init__(self, kind, message):
        self.kind = kind
        self.message = message
        super().__init__("%s: %s" % (kind, message))


def url_host(host):
    """``host`` as it appears in a URL or Host header (IPv6 addresses get brackets)."""
    if ":" in host and not host.startswith("["):
        return "[%s]" % host
    return host


# --- TLS contexts ------------------------------------------------------------------------------


def _make_unverified_context():
    # A bare client context: create_default_context() would load the system CA store, which
    # costs milliseconds of CPU per connection and is useless without verification.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


#: Used when verification is off, and for the second handshake of a probe whose verification
#: failed. Configured once, shared by every connection.
UNVERIFIED_CONTEXT = _make_unverified_context()


def verifying_context(ca_path=None):
    """A context that verifies chain and name against the system CAs, or ``ca_path`` (a bundle
    file or a directory). Build it once and reuse it: loading CAs costs milliseconds of CPU.
    Raises ``TransportError("config")`` when the CAs cannot be read."""
    try:
        if ca_path is None:
            context = ssl.create_default_context()
        elif os.path.isdir(ca_path):
            context = ssl.create_default_context(capath=ca_path)
        else:
            context = ssl.create_default_context(cafile=ca_path)
    except (OSError, ssl.SSLError) as exc:
        raise TransportError("config", "cannot load CA certificates from %s: %s" % (ca_path, exc))
    # Python 3.13 adds these two flags to the default context; Synapse verifies with OpenSSL's
    # defaults, without them. Clearing them gives the same verdict on every Python a controller
    # or target runs (3.10 to 3.13), and the one remote servers reach.
    context.verify_flags &= ~(getattr(ssl, "VERIFY_X509_STRICT", 0) | getattr(ssl, "VERIFY_X509_PARTIAL_CHAIN", 0))
    return context


# --- connections -------------------------------------------------------------------------------


class _Connection:
    """One TLS connection on the loop, reopened with the same context when the server closed
    it between requests (as http.client does)."""

    def __init__(self, address, port, tls_server_name, context):
        self.address, self.port, self.tls_server_name, self.context = address, port, tls_server_name, context
        self.tls = None

    async def open(self, deadline):
        if deadline.expired:
            raise TimeoutError("the deadline passed")
        sock = socket.socket(socket.AF_INET6 if ":" in self.address else socket.AF_INET, socket.SOCK_STREAM)
        tls = None
        try:
            sock.setblocking(False)
            await connect(sock, (self.address, self.port), deadline.at)
            # An IP address as server_hostname is checked against the certificate's IP
            # addresses and not sent as SNI (Python's ssl module since 3.7).
            tls = self.context.wrap_socket(sock, server_hostname=self.tls_server_name,
                                           do_handshake_on_connect=False)
            while True:
                try:
                    tls.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    await readable(tls, deadline.at)
                except ssl.SSLWantWriteError:
                    await writable(tls, deadline.at)
        except BaseException:
            (tls or sock).close()
            raise
        self.tls = tls

    @property
    def closed(self):
        return self.tls is None

    def close(self):
        if self.tls is not None:
            self.tls.close()
            self.tls = None

    async def send(self, data, deadline):
        view = memoryview(data)
        while view:
            try:
                view = view[self.tls.send(view):]
            except ssl.SSLWantWriteError:
                await writable(self.tls, deadline.at)
            except ssl.SSLWantReadError:
                await readable(self.tls, deadline.at)

    async def receive(self, method, max_bytes, deadline):
        """The bytes of one response: up to its end (the framing of its head), at most
        ``max_bytes`` of body, or up to the server's close. Returns (bytes, closed)."""
        data = bytearray()
        while True:
            end = _message_end(data, method, max_bytes)
            if end is not None:
                return bytes(data[:end]), False
            try:
                chunk = self.tls.recv(65536)
            except ssl.SSLWantReadError:
                await readable(self.tls, deadline.at)
                continue
            except ssl.SSLWantWriteError:
                await writable(self.tls, deadline.at)
                continue
            if not chunk:
                return bytes(data), True
            data += chunk


class _Raw:
    """What http.client.HTTPResponse parses a received response from."""

    def __init__(self, data):
        self._data = data

    def makefile(self, _mode):
        return io.BytesIO(self._data)


_HEAD_END = re.compile(rb"\r?\n\r?\n")
#: More than this without the end of the head: http.client refuses it (line or headers too long).
_MAX_HEAD = 65536 + 100 * 65536


def _message_end(data, method, max_bytes):
    """Where the response in ``data`` ends, once enough of it is there to parse it with
    http.client (head, and body up to its framing or ``max_bytes``); None: read more."""
    start = 0
    while True:
        first_line_end = data.find(b"\n", start)
        if first_line_end < 0:
            return len(data) if len(data) - start > 65536 else None
        parts = bytes(data[start:first_line_end]).split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
            return first_line_end + 1  # http.client refuses the status line
        found = _HEAD_END.search(data, start)
        if found is None:
            return len(data) if len(data) - start > _MAX_HEAD else None
        head_end = found.end()
        status = int(parts[1])
        if 100 <= status < 200 and status != 101:
            start = head_end  # an interim response: http.client skips it
            continue
        break
    length, chunked = None, False
    for line in bytes(data[start:found.start()]).split(b"\n")[1:]:
        key, dummy, value = line.partition(b":")
        key = key.strip().lower()
        if key == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
        elif key == b"content-length":
            length = value.strip()
    if method == "HEAD" or status in (204, 304) or status < 200:
        return head_end
    if chunked:
        return _chunked_end(data, head_end, max_bytes)
    if length is not None and length.isdigit():
        if int(length) > max_bytes:
            return head_end
        return head_end + int(length) if len(data) >= head_end + int(length) else None
    return head_end + max_bytes if len(data) >= head_end + max_bytes else None


def _chunked_end(data, position, max_bytes):
    decoded = 0
    while True:
        line_end = data.find(b"\n", position)
        if line_end < 0:
            return None
        try:
            size = int(bytes(data[position:line_end]).split(b";", 1)[0].strip(), 16)
        except ValueError:
            return line_end + 1  # http.client refuses the chunk
        position = line_end + 1
        if size == 0:
            while True:  # trailers, up to an empty line
                line_end = data.find(b"\n", position)
                if line_end < 0:
                    return None
                line, position = data[position:line_end + 1], line_end + 1
                if line in (b"\r\n", b"\n"):
                    return position
        available = len(data) - position
        if decoded + min(size, available) >= max_bytes:
            return len(data)  # enough for the body cap
        if available < size + 2:
            return None
        decoded += size
        position += size + 2


#: What http.client refuses in a request line and in header values.
_BAD_PATH = re.compile(r"[\x00-\x20\x7f]")
_BAD_VALUE = re.compile(r"\n(?![ \t])|\r(?![ \t\n])")


def _request_bytes(method, path, headers):
    if _BAD_PATH.search(path):
        raise http.client.InvalidURL("URL can't contain control characters. %r" % (path,))
    lines = ["%s %s HTTP/1.1" % (method, path), "Accept-Encoding: identity"]
    for name, value in headers.items():
        if _BAD_VALUE.search(value):
            raise ValueError("Invalid header value %r" % (value,))
        lines.append("%s: %s" % (name, value))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _failure(exc, deadline, phase):
    """(kind, message) for an exception raised while connecting (``phase`` "connect") or
    during a request ("request"); ``deadline.use`` names the exchange ("request", "probe")."""
    if deadline.expired or isinstance(exc, (socket.timeout, TimeoutError)):
        what = "no TLS connection" if phase == "connect" and deadline.use == "probe" else "no complete response"
        return "timeout", "%s within %g s (the deadline of the whole %s)" % (what, deadline.seconds, deadline.use)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "tls_invalid", "certificate verification failed: %s" % (exc.verify_message or exc.reason or exc)
    if isinstance(exc, ssl.SSLError) and phase == "connect":
        return "tls_handshake", "TLS handshake failed: %s" % (exc.reason or exc)
    if isinstance(exc, ConnectionRefusedError):
        return "unreachable", "connection refused"
    if isinstance(exc, http.client.HTTPException) and not isinstance(exc, ConnectionError):
        return "http_error", "not a valid HTTP response: %s" % (str(exc) or type(exc).__name__)
    return "unreachable", str(exc) or type(exc).__name__


async def _connect(address, port, tls_server_name, deadline, verify_context, retry_unverified):
    """Open the TLS connection; return (connection, the verification failure or None).

    ``verify_context`` None: nothing is verified. When verification fails and
    ``retry_unverified``, the handshake is repeated without verification. Raises
    TransportError (the message without the address, which the caller adds)."""
    contexts = [verify_context if verify_context is not None else UNVERIFIED_CONTEXT]
    if verify_context is not None and retry_unverified:
        contexts.append(UNVERIFIED_CONTEXT)
    verify_failure = None
    for context in contexts:
        connection = _Connection(address, port, tls_server_name, context)
        try:
            await connection.open(deadline)
        except (OSError, TimeoutError) as exc:
            if isinstance(exc, ssl.SSLCertVerificationError) and not deadline.expired:
                verify_failure = exc
                if context is not contexts[-1]:
                    continue
            raise TransportError(*_failure(exc, deadline, "connect")) from exc
        return connection, verify_failure
    raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover


async def _exchange(connection, method, path, host_header, max_bytes, extra_headers, deadline):
    """Send one request on ``connection``; return (status, Headers, body, too_large).

    Raises TransportError (message without the address). Closes the connection when the
    server will, or when the body was not read to its end."""
    headers = {"Host": host_header, "User-Agent": USER_AGENT, "Accept": "application/json"}
    headers.update(extra_headers or {})
    if deadline.expired:
        raise TransportError(*_failure(socket.timeout(), deadline, "request"))
    try:
        request = _request_bytes(method, path, headers)
        if connection.closed:
            await connection.open(deadline)
        await connection.send(request, deadline)
        data, server_closed = await connection.receive(method, max_bytes, deadline)
        response = http.client.HTTPResponse(_Raw(data), method=method)
        response.begin()
        length = response.getheader("Content-Length")
        if length is not None and length.strip().isdigit() and int(length) > max_bytes:
            body, too_large = b"", True
        else:
            body = response.read(max_bytes)
            too_large = len(body) >= max_bytes
        if too_large or server_closed or response.will_close or not response.isclosed():
            connection.close()
    except (OSError, TimeoutError, http.client.HTTPException) as exc:
        connection.close()
        raise TransportError(*_failure(exc, deadline, "request")) from exc
    return response.status, Headers(response.getheaders()), body, too_large


async def ahttps_request(address, port, tls_server_name, host_header, method, path, max_bytes, timeout,
                         verify_context, extra_headers=None):
    """One HTTPS request to the IP ``address`` on ``port`` on a connection of its own; return
    an :class:`HttpResponse` (redirects are not followed).

    SNI and verification for ``tls_server_name`` (a hostname, or an IP address: then no SNI),
    ``Host: host_header``; ``verify_context`` None: nothing verified. The whole request must
    be done within ``timeout`` seconds. Raises :class:`TransportError`, its message naming the
    URL and the address.
    """
    display_url = "https://%s%s" % (host_header, path)
    deadline = RequestDeadline(timeout, "request")
    try:
        connection, dummy = await _connect(address, port, tls_server_name, deadline, verify_context, False)
        try:
            status, headers, body, too_large = await _exchange(connection, method, path, host_header, max_bytes,
                                                               extra_headers, deadline)
        finally:
            connection.close()
    except TransportError as exc:
        raise TransportError(exc.kind, "%s (%s port %d): %s" % (display_url, url_host(address), port, exc.message))
    return HttpResponse(url=display_url, status=status, headers=headers, body=body, too_large=too_large,
                        peer_address=address)


def https_request(*args, **kwargs):
    """:func:`ahttps_request` from synchronous code (on a loop of its own)."""
    return run(ahttps_request(*args, **kwargs))


async def aprobe(address, port, tls_server_name, host_header, paths, max_bytes, timeout, verify_context):
    """Connect to ``address``:``port`` over TLS and GET each of ``paths`` with ``host_header``.

    ``tls_server_name`` is the name (or IP literal) the certificate must be valid for; SNI
    carries it unless it is an IP address. When verification fails the handshake is repeated
    without verification, so the certificate and the HTTP answers can still be reported.
    ``verify_context`` None: nothing is verified (and nothing retried).

    Returns {"error": None | {"kind", "message"}, "tls": {...} | None, "responses": {path: ...}}
    where tls holds verified, verify_code, verify_message, version, cipher, certificate_der,
    and each response status, headers (a dict, lower-case names), body, too_large, error and
    error_kind (None when answered). The whole probe (connections, handshakes and every
    request) has one deadline, ``timeout`` seconds from the start. Never raises.
    """
    result = {"error": None, "tls": None, "responses": {}}
    deadline = RequestDeadline(timeout, "probe")
    try:
        connection, verify_failure = await _connect(address, port, tls_server_name, deadline, verify_context, True)
    except TransportError as exc:
        result["error"] = {"kind": exc.kind, "message": exc.message}
        return result
    sock = connection.tls
    result["tls"] = {
        "verified": verify_failure is None and verify_context is not None,
        "verify_code": getattr(verify_failure, "verify_code", None),
        "verify_message": getattr(verify_failure, "verify_message", None),
        "version": sock.version(),
        "cipher": (sock.cipher() or (None,))[0],
        "certificate_der": sock.getpeercert(binary_form=True),
    }
    try:
        for path in paths:
            try:
                status, headers, body, too_large = await _exchange(connection, "GET", path, host_header, max_bytes,
                                                                   None, deadline)
            except TransportError as exc:
                result["responses"][path] = {"status": None, "headers": {}, "body": b"", "too_large": False,
                                             "error": exc.message, "error_kind": exc.kind}
            else:
                result["responses"][path] = {"status": status, "headers": headers.to_dict(), "body": body,
                                             "too_large": too_large, "error": None, "error_kind": None}
    finally:
        connection.close()
    return result


def probe(*args, **kwargs):
    """:func:`aprobe` from synchronous code (on a loop of its own)."""
    return run(aprobe(*args, **kwargs))
