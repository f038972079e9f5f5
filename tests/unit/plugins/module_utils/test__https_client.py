# Copyright (c) 2026, homeserver.delegation developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The HTTPS client against a real TLS server on loopback (no root, no network).

A federation probe verifies the certificate first; when that fails it connects again without
verification so the report can still show the certificate and the answers, and says why
verification failed. A single request refuses what does not verify. Both share the error
kinds. The server here is Python's own TLS and HTTP/1.1 server with certificates from a
throw-away CA, so the handshakes, the SNI and the verification are the real ones.
"""

from __future__ import annotations

import datetime
import http.server
import ipaddress
import socket
import ssl
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.homeserver.delegation.plugins.module_utils._https_client import (
    TransportError,
    USER_AGENT,
    https_request,
    probe,
    verifying_context,
)

MAX_RESPONSE_BYTES = 256 * 1024

NAME = "matrix.example.org"
PATHS = ["/_matrix/federation/v1/version", "/_matrix/key/v2/server"]
_NOW = datetime.datetime.now(datetime.timezone.utc)


def _name(text):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])


class CertificateAuthority:
    """A CA that issues server certificates, written as PEM files under ``directory``."""

    def __init__(self, directory, label):
        self.directory = directory
        self.label = label
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.certificate = (
            x509.CertificateBuilder().subject_name(_name(label)).issuer_name(_name(label))
            .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(_NOW - datetime.timedelta(days=1)).not_valid_after(_NOW + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256()))
        self.path = directory / ("%s-ca.pem" % label)
        self.path.write_bytes(self.certificate.public_bytes(serialization.Encoding.PEM))

    def issue(self, dns_names=(), ip_addresses=()):
        """(certificate file, key file) of a server certificate for these names."""
        key = ec.generate_private_key(ec.SECP256R1())
        names = [x509.DNSName(name) for name in dns_names]
        names += [x509.IPAddress(ipaddress.ip_address(address)) for address in ip_addresses]
        certificate = (
            x509.CertificateBuilder().subject_name(_name((list(dns_names) + list(ip_addresses))[0]))
            .issuer_name(self.certificate.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(_NOW - datetime.timedelta(days=1)).not_valid_after(_NOW + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .sign(self.key, hashes.SHA256()))
        stem = self.directory / ("%s-%d" % (self.label, certificate.serial_number))
        cert_path, key_path = stem.with_suffix(".crt"), stem.with_suffix(".key")
        cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        return cert_path, key_path, certificate.public_bytes(serialization.Encoding.DER)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: both paths over one connection

    def do_GET(self):  # noqa: N802 (http.server's naming)
        self.server.requests.append((self.path, self.headers.get("Host")))
        self.server.user_agents.append(self.headers.get("User-Agent"))
        body = self.server.bodies.get(self.path, b'{"server": {"name": "test"}}')
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class TlsServer:
    """A threaded HTTPS server on 127.0.0.1 that records handshakes (with their SNI) and requests."""

    def __init__(self, cert_path, key_path, bodies=None):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert_path), str(key_path))
        self.sni = []
        context.sni_callback = lambda sock, server_name, ctx: self.sni.append(server_name)
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.httpd.requests = []
        self.httpd.user_agents = []
        self.httpd.bodies = bodies or {}
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def requests(self):
        return self.httpd.requests

    @property
    def user_agents(self):
        return self.httpd.user_agents

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def authority(tmp_path):
    return CertificateAuthority(tmp_path, "trusted")


@pytest.fixture
def serve():
    servers = []

    def start(cert, bodies=None):
        server = TlsServer(cert[0], cert[1], bodies)
        servers.append(server)
        return server
    yield start
    for server in servers:
        server.close()


def verifying(authority):
    # The context the modules build. The authority writes no key identifiers, as many private
    # CAs do not: Python 3.13's default context refuses that (VERIFY_X509_STRICT) where Synapse
    # and older Pythons accept it, and the client's verdict must not depend on the Python.
    return verifying_context(str(authority.path))


def probe_server(server, tls_server_name=NAME, verify_context=None, timeout=5.0, host_header=NAME + ":8448"):
    return probe("127.0.0.1", server.port, tls_server_name, host_header, PATHS, MAX_RESPONSE_BYTES, timeout,
                 verify_context)


def test_a_trusted_certificate_for_the_name_verifies_in_one_handshake(authority, serve):
    cert = authority.issue([NAME])
    server = serve(cert)
    result = probe_server(server, verify_context=verifying(authority))
    assert result["error"] is None
    tls = result["tls"]
    assert (tls["verified"], tls["verify_code"], tls["verify_message"]) == (True, None, None)
    assert tls["certificate_der"] == cert[2]
    assert tls["version"] in ("TLSv1.2", "TLSv1.3")
    assert server.sni == [NAME]
    assert [result["responses"][path]["status"] for path in PATHS] == [200, 200]
    assert server.requests == [(path, NAME + ":8448") for path in PATHS]


@pytest.mark.parametrize("issuer, names, verify_code, message", [
    pytest.param("rogue", [NAME], 20, "unable to get local issuer certificate", id="untrusted-chain"),
    pytest.param("trusted", ["other.example.org"], 62, "mismatch", id="name-mismatch"),
])
def test_a_failed_verification_is_retried_without_it_and_reported(authority, serve, tmp_path, issuer, names,
                                                                  verify_code, message):
    issuing = authority if issuer == "trusted" else CertificateAuthority(tmp_path, issuer)
    cert = issuing.issue(names)
    server = serve(cert, {PATHS[0]: b'{"server": {"name": "Synapse"}}'})
    result = probe_server(server, verify_context=verifying(authority))
    assert result["error"] is None
    tls = result["tls"]
    assert tls["verified"] is False
    assert tls["verify_code"] == verify_code and message in tls["verify_message"].lower()
    # The second, unverified handshake shows what the server presents and what it answers.
    assert tls["certificate_der"] == cert[2]
    assert server.sni == [NAME, NAME]
    assert result["responses"][PATHS[0]]["body"] == b'{"server": {"name": "Synapse"}}'


def test_without_a_verifying_context_nothing_is_verified_and_nothing_retried(authority, serve):
    server = serve(authority.issue([NAME]))
    result = probe_server(server, verify_context=None)
    assert result["error"] is None
    assert (result["tls"]["verified"], result["tls"]["verify_code"]) == (False, None)
    assert server.sni == [NAME]


def test_an_ip_literal_is_verified_against_the_ip_and_sends_no_sni(authority, serve):
    server = serve(authority.issue(ip_addresses=["127.0.0.1"]))
    result = probe_server(server, tls_server_name="127.0.0.1", verify_context=verifying(authority),
                          host_header="127.0.0.1:8448")
    assert result["tls"]["verified"] is True
    assert server.sni == [None]


def test_a_body_announced_above_the_cap_is_flagged_without_reading_it(authority, serve):
    server = serve(authority.issue([NAME]), {PATHS[1]: b"x" * (MAX_RESPONSE_BYTES + 10)})
    result = probe_server(server, verify_context=verifying(authority))
    response = result["responses"][PATHS[1]]
    assert response["too_large"] is True and response["body"] == b""


def _listener():
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    return listener


def test_a_closed_port_is_refused():
    listener = _listener()
    port = listener.getsockname()[1]
    listener.close()
    result = probe("127.0.0.1", port, NAME, NAME, PATHS, MAX_RESPONSE_BYTES, 5.0, None)
    assert result["error"] == {"kind": "unreachable", "message": "connection refused"}
    assert result["tls"] is None and result["responses"] == {}


def test_plain_http_on_the_port_is_a_failed_handshake(authority):
    listener = _listener()

    def answer_plain_http():
        connection, _address = listener.accept()
        connection.recv(4096)
        connection.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        connection.close()
    thread = threading.Thread(target=answer_plain_http, daemon=True)
    thread.start()
    try:
        result = probe("127.0.0.1", listener.getsockname()[1], NAME, NAME, PATHS, MAX_RESPONSE_BYTES, 5.0,
                       verifying(authority))
    finally:
        thread.join(5)
        listener.close()
    assert result["error"]["kind"] == "tls_handshake"
    assert result["error"]["message"].startswith("TLS handshake failed: ")


def test_a_server_that_never_completes_the_handshake_times_out():
    listener = _listener()  # accepts (the kernel's backlog) but never speaks TLS
    try:
        result = probe("127.0.0.1", listener.getsockname()[1], NAME, NAME, PATHS, MAX_RESPONSE_BYTES, 0.5, None)
    finally:
        listener.close()
    assert result["error"]["kind"] == "timeout"
    assert "0.5 s" in result["error"]["message"]


# --- one client for both uses: the same verification, errors, caps and User-Agent ---------------


def request(server, tls_server_name=NAME, verify_context=None, path=PATHS[0], max_bytes=MAX_RESPONSE_BYTES):
    return https_request("127.0.0.1", server.port, tls_server_name, NAME, "GET", path, max_bytes, 5.0,
                         verify_context)


def test_a_request_and_a_probe_send_the_same_user_agent(authority, serve):
    server = serve(authority.issue([NAME]))
    request(server, verify_context=verifying(authority))
    probe_server(server, verify_context=verifying(authority))
    assert server.user_agents == ["homeserver.delegation"] * 3
    assert USER_AGENT == "homeserver.delegation"


def test_a_single_request_refuses_a_failed_verification_without_retrying(authority, serve):
    server = serve(authority.issue(["other.example.org"]))
    with pytest.raises(TransportError) as caught:
        request(server, verify_context=verifying(authority))
    assert caught.value.kind == "tls_invalid"
    assert "https://%s%s (127.0.0.1 port %d): certificate verification failed: " % (NAME, PATHS[0], server.port) \
        in caught.value.message
    assert "mismatch" in caught.value.message.lower()
    assert server.sni == [NAME] and server.requests == []


@pytest.mark.parametrize("size, too_large, body_read", [
    pytest.param(99, False, 99, id="below-the-cap"),
    pytest.param(100, True, 100, id="at-the-cap-cut"),
    pytest.param(101, True, 0, id="content-length-above-the-cap-not-read"),
])
def test_the_body_cap_is_the_same_rule_for_a_request_and_a_probe(authority, serve, size, too_large, body_read):
    server = serve(authority.issue([NAME]), {PATHS[0]: b"x" * size})
    single = request(server, verify_context=verifying(authority), max_bytes=100)
    probed = probe("127.0.0.1", server.port, NAME, NAME, PATHS[:1], 100, 5.0,
                   verifying(authority))["responses"][PATHS[0]]
    assert (single.too_large, probed["too_large"]) == (too_large, too_large)
    assert single.body == probed["body"] == b"x" * body_read


def test_plain_http_on_the_port_is_the_same_failed_handshake_for_a_request(authority):
    listener = _listener()

    def answer_plain_http():
        connection, _address = listener.accept()
        connection.recv(4096)
        connection.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        connection.close()
    thread = threading.Thread(target=answer_plain_http, daemon=True)
    thread.start()
    try:
        with pytest.raises(TransportError) as caught:
            https_request("127.0.0.1", listener.getsockname()[1], NAME, NAME, "GET", "/", 100, 5.0,
                          verifying(authority))
    finally:
        thread.join(5)
        listener.close()
    assert caught.value.kind == "tls_handshake"
    assert "TLS handshake failed: " in caught.value.message


def _tls_server_answering(cert, answer):
    """A TLS listener that answers one connection's first request with the raw bytes ``answer``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert[0]), str(cert[1]))
    listener = _listener()

    def serve_once():
        connection, _address = listener.accept()
        try:
            with context.wrap_socket(connection, server_side=True) as tls:
                tls.recv(4096)
                tls.sendall(answer)
        except OSError:
            pass
    thread = threading.Thread(target=serve_once, daemon=True)
    thread.start()
    return listener, thread


@pytest.mark.parametrize("answer, kind", [
    pytest.param(b"SSH-2.0-OpenSSH_9.2\r\n\r\n", "http_error", id="not-http"),
    pytest.param(b"", "unreachable", id="closed-without-answer"),
])
def test_an_answer_that_is_not_http_has_one_kind_for_a_request_and_a_probe(authority, answer, kind):
    cert = authority.issue([NAME])
    listener, thread = _tls_server_answering(cert, answer)
    try:
        with pytest.raises(TransportError) as caught:
            https_request("127.0.0.1", listener.getsockname()[1], NAME, NAME, "GET", "/", 100, 5.0,
                          verifying(authority))
    finally:
        thread.join(5)
        listener.close()
    listener, thread = _tls_server_answering(cert, answer)
    try:
        result = probe("127.0.0.1", listener.getsockname()[1], NAME, NAME, PATHS[:1], 100, 5.0, verifying(authority))
    finally:
        thread.join(5)
        listener.close()
    assert caught.value.kind == result["responses"][PATHS[0]]["error_kind"] == kind
