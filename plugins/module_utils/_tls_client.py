# Copyright (c) 2026, homeserver.delegation developers
# Simplified BSD License (see https://opensource.org/licenses/BSD-2-Clause)
# SPDX-License-Identifier: BSD-2-Clause

"""One HTTPS connection to one federation target address, the way a homeserver makes it.

Connects to a resolved address, sends SNI for the expected certificate name (none for IP
literals), verifies the chain and the name, keeps the peer certificate for the report, and
sends GET requests with the Host header discovery chose. http.client is used directly
because the check needs the peer certificate and a handshake that may fail verification and
then be repeated without it, to tell the user what the server presents.

This module is internal to the homeserver.delegation collection and may change at any time.
"""

from __future__ import annotations

import http.client
import socket
import ssl

from ansible_collections.homeserver.delegation.plugins.module_utils._deadline import RequestDeadline

# Responses of /version and /key/v2/server are a few KiB; anything near this is not Matrix.
MAX_RESPONSE_BYTES = 256 * 1024


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """An HTTPSConnection to a fixed address whose TLS name differs from the address."""

    def __init__(self, address, port, server_hostname, context, deadline):
        super().__init__(address, port, timeout=deadline.seconds, context=context)
        self._tls_server_hostname = server_hostname
        self._tls_context = context
        self._deadline = deadline

    def connect(self):
        # http.client calls this again by itself when the server closed between requests.
        remaining = self._deadline.remaining()
        if remaining <= 0:
            raise socket.timeout("the deadline of the probe passed")
        raw = socket.create_connection((self.host, self.port), remaining)
        try:
            # From here on the deadline shuts the socket down, ending a handshake or a
            # response that trickles in.
            self._deadline.watch(raw)
            self.sock = self._tls_context.wrap_socket(raw, server_hostname=self._tls_server_hostname)
        except BaseException:
            raw.close()
            raise


def _make_unverified_context():
    # A bare client context: create_default_context() would load the system CA store, which
    # costs milliseconds of CPU per connection and is useless without verification.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


# SSLContext objects are safe to share between threads once configured.
_UNVERIFIED_CONTEXT = _make_unverified_context()


def _connection_error(exc):
    """Map a socket-level exception to (kind, message)."""
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timeout", "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "refused", "connection refused"
    if isinstance(exc, ssl.SSLError):
        return "tls_handshake", "TLS handshake failed: %s" % (exc.reason or exc)
    return "unreachable", str(exc) or type(exc).__name__


def _timed_out(timeout):
    return {"status": None, "headers": {}, "body": b"", "too_large": False,
            "error": "no complete response within %g s (the deadline of the whole probe)" % timeout,
            "error_kind": "timeout"}


def _get(connection, path, host_header, deadline):
    """GET path on an open connection; return {status, headers, body, error}."""
    if deadline.expired:
        return _timed_out(deadline.seconds)
    try:
        connection.request("GET", path, headers={"Host": host_header, "Accept": "application/json",
                                                 "User-Agent": "homeserver.delegation federation_check"})
        response = connection.getresponse()
        body = response.read(MAX_RESPONSE_BYTES + 1)
        result = {
            "status": response.status,
            "headers": dict((name.lower(), value) for name, value in response.getheaders()),
            "body": body[:MAX_RESPONSE_BYTES],
            "too_large": len(body) > MAX_RESPONSE_BYTES,
            "error": None,
        }
        if result["too_large"] or response.will_close:
            connection.close()
        if deadline.expired:
            # The socket was shut down while the response came in: it may be cut short.
            connection.close()
            return _timed_out(deadline.seconds)
        return result
    except (OSError, http.client.HTTPException) as exc:
        connection.close()
        if deadline.expired:
            return _timed_out(deadline.seconds)
        kind, message = _connection_error(exc)
        return {"status": None, "headers": {}, "body": b"", "too_large": False, "error": message, "error_kind": kind}


def probe_federation_target(address, port, tls_server_name, host_header, paths, timeout,
                            verify_context=None):
    """Connect to address:port over TLS and GET each of paths with host_header.

    tls_server_name is the name (or IP literal) the certificate must be valid for; SNI carries
    it unless it is an IP address (then no SNI, per the specification). When verification
    fails the handshake is repeated without verification so the certificate and the HTTP
    answers can still be reported.

    Returns {"error": None | {"kind", "message"}, "tls": {...} | None, "responses": {path: ...}}
    where tls holds verified, verify_code, verify_message, version, cipher, certificate_der.
    verify_context is an SSLContext that verifies chain and name (None: do not verify).
    The whole probe (connections, handshakes and every request) has one deadline, timeout
    seconds from the start; a server that trickles its answer gets a "timeout" error.
    """
    with RequestDeadline(timeout) as deadline:
        return _probe(address, port, tls_server_name, host_header, paths, deadline, verify_context)


def _probe(address, port, tls_server_name, host_header, paths, deadline, verify_context):
    result = {"error": None, "tls": None, "responses": {}}
    contexts = [verify_context, _UNVERIFIED_CONTEXT] if verify_context is not None else [_UNVERIFIED_CONTEXT]
    connection = None
    verify_failure = None
    for context in contexts:
        connection = _PinnedHTTPSConnection(address, port, tls_server_name, context, deadline)
        try:
            connection.connect()
            break
        except ssl.SSLCertVerificationError as exc:
            connection.close()
            verify_failure = exc
            continue
        except (OSError, ssl.SSLError) as exc:
            connection.close()
            if deadline.expired:
                result["error"] = {"kind": "timeout", "message": "no TLS connection within %g s (the deadline "
                                                                 "of the whole probe)" % deadline.seconds}
                return result
            kind, message = _connection_error(exc)
            result["error"] = {"kind": kind, "message": message}
            return result

    sock = connection.sock
    result["tls"] = {
        "verified": verify_failure is None and verify_context is not None,
        "verify_code": getattr(verify_failure, "verify_code", None),
        "verify_message": getattr(verify_failure, "verify_message", None) if verify_failure else None,
        "version": sock.version(),
        "cipher": (sock.cipher() or (None,))[0],
        "certificate_der": sock.getpeercert(binary_form=True),
    }
    # http.client reconnects by itself (same context, same checks) if the server closed.
    for path in paths:
        result["responses"][path] = _get(connection, path, host_header, deadline)
    connection.close()
    return result
