# Copyright (c) homeserver.delegation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""NetworkTransport against tiny real servers on 127.0.0.1 (a TLS web server with a test CA,
a UDP DNS server built with dnspython). The lab tests run it against BIND and nginx."""

from __future__ import annotations

import datetime
import http.server
import ipaddress
import socket
import ssl
import threading
import time

import pytest

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.homeserver.delegation.plugins.module_utils import _transport
from ansible_collections.homeserver.delegation.plugins.module_utils._transport import (
    Headers,
    NetworkTransport,
    TransportError,
    url_host,
)

# --- a TLS web server with its own CA ------------------------------------------------------


def _certificate(subject, issuer_name, issuer_key, public_key, sans=None, ca=False):
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .issuer_name(issuer_name)
               .public_key(public_key)
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(hours=1))
               .not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    # Like those of some private CAs, these certificates carry no key identifiers, which
    # Python 3.13's default context alone refuses ("Missing Authority Key Identifier").
    directory = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")])
    ca_cert = _certificate("Test CA", ca_name, ca_key, ca_key.public_key(), ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _certificate("matrix.test", ca_name, ca_key, key.public_key(), sans=[
        x509.DNSName("matrix.test"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    ca_path = directory / "ca.pem"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    chain = directory / "server.pem"
    chain.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return {"ca": str(ca_path), "chain": str(chain)}


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's naming
        self.server.seen.append({"path": self.path, "host": self.headers.get("Host"),
                                 "sni": getattr(self.connection, "sni_seen", "unset")})
        if self.path == "/redirect":
            self._reply(302, b"", {"Location": "https://elsewhere.test/x"})
        elif self.path.startswith("/size/"):
            # No Content-Length: the body ends when the connection closes (HTTP/1.0).
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b" " * int(self.path.split("/")[-1]))
        elif self.path in ("/drip-headers", "/drip-body"):
            self._drip()
        elif self.path == "/claims-large":
            self.send_response(200)
            self.send_header("Content-Length", "60000")
            self.end_headers()
            self.wfile.write(b"{}")
        else:
            self._reply(200, b'{"m.server": "matrix.test:443"}',
                        {"Cache-Control": "max-age=60", "X-Twice": "a"})

    def _drip(self):
        """Answer one byte every 0.2 s (in the headers, or in a small body) for up to 60 s."""
        body = b'{"m.server": "matrix.test:443"}' + b" " * 300
        head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body)
        if self.path == "/drip-body":
            self.wfile.write(head)
            self.wfile.flush()
            head = b""
        try:
            for byte in (head + body)[:300]:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.2)
        except OSError:
            pass  # the client gave up, as it should
        self.close_connection = True

    def do_OPTIONS(self):  # noqa: N802 - http.server's naming
        self.server.seen.append({"method": "OPTIONS", "path": self.path, "host": self.headers.get("Host"),
                                 "origin": self.headers.get("Origin"),
                                 "request_method": self.headers.get("Access-Control-Request-Method")})
        self._reply(204, b"", {"Access-Control-Allow-Origin": "*"})

    def _reply(self, status, body, headers=None):
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if headers and "X-Twice" in headers:
            self.send_header("X-Twice", "b")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def web(pki):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki["chain"])

    def remember_sni(ssl_socket, server_name, dummy):
        ssl_socket.sni_seen = server_name

    context.sni_callback = remember_sni
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def _get(transport, web, path="/", name="matrix.test", max_bytes=51200):
    return transport.https_get("127.0.0.1", web.server_address[1], path, name, name, max_bytes)


def test_connects_to_the_address_with_sni_host_and_verified_name(pki, web):
    transport = NetworkTransport(nameservers=["127.0.0.1"], ca_path=pki["ca"], timeout=5)
    response = _get(transport, web)
    assert response.status == 200
    assert response.body == b'{"m.server": "matrix.test:443"}'
    assert response.headers.get("cache-control") == "max-age=60"
    assert response.headers.get_all("x-twice") == ["a", "b"]
    assert response.too_large is False
    assert response.peer_address == "127.0.0.1"
    assert response.url == "https://matrix.test/"
    assert web.seen[-1] == {"path": "/", "host": "matrix.test", "sni": "matrix.test"}


def test_another_method_is_sent_the_same_way(pki, web):
    transport = NetworkTransport(nameservers=["127.0.0.1"], ca_path=pki["ca"], timeout=5)
    response = transport.https_get("127.0.0.1", web.server_address[1], "/.well-known/matrix/client", "matrix.test",
                                   "matrix.test", 4096, method="OPTIONS",
                                   extra_headers={"Origin": "https://app.test", "Access-Control-Request-Method": "GET"})
    assert response.status == 204 and response.body == b""
    assert response.headers.get("access-control-allow-origin") == "*"
    assert web.seen[-1] == {"method": "OPTIONS", "path": "/.well-known/matrix/client", "host": "matrix.test",
                            "origin": "https://app.test", "request_method": "GET"}


def test_ip_literal_sends_no_sni_and_checks_the_ip(pki, web):
    transport = NetworkTransport(nameservers=["127.0.0.1"], ca_path=pki["ca"], timeout=5)
    response = _get(transport, web, name="127.0.0.1")
    assert response.status == 200
    assert web.seen[-1]["sni"] is None
    assert web.seen[-1]["host"] == "127.0.0.1"


def test_certificate_for_another_name_is_tls_invalid(pki, web):
    transport = NetworkTransport(nameservers=["127.0.0.1"], ca_path=pki["ca"], timeout=5)
    with pytest.raises(TransportError) as caught:
        _get(transport, web, name="other.test")
    assert caught.value.kind == "tls_invalid"
    assert "other.test" in caught.value.message


def test_certificate_without_authority_key_identifier_verifies_on_every_python(pki, web):
    # Synapse accepts such a chain: the verdict must not depend on the Python that runs the check.
    with open(pki["chain"], "rb") as handle:
        certificate = x509.load_pem_x509_certificate(handle.read())
    with pytest.raises(x509.ExtensionNotFound):
        certificate.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    transport = NetworkTransport(nameservers=["127.0.0.1"], ca_path=pki["ca"], timeout=5)
    assert _get(transport, web).status == 200


def test_untrusted_ca_is_tls_invalid(web):
    transport = NetworkTransport(nameservers=["127.0.0.1"], timeout=5)
    with pytest.raises(TransportError) as caught:
        _get(transport, web)
    assert caught.value.kind == "tls_invalid"


def test_validate_certs_false_accepts_any_certificate(web):
    transport = NetworkTransport(nameservers=["127.0.0.1"], timeout=5, validate_certs=False)
    assert _get(transport, web, name="other.test").status == 200


def test_redirects_are_returned_not_followed(pki, web):
    transport = NetworkTransport(nameservers=["127.0.0.1"], ca_path=pki["ca"], timeout=5)
    response = _get(transport, web, path="/redirect")
    assert response.status == 302
    assert response.headers.get("Location") == "https://elsewhere.test/x"


@pytest.mark.parametrize("size, too_large", [(51199, False), (51200, True), (80000, True)])
def test_body_is_capped(pki, web, size, too_large):
    transport = NetworkTransport(nameservers=["127.0.0.1"], ca_path=pki["ca"], timeout=5)
    response = _get(transport, web, path="/size/%d" % size)
    assert response.too_large is too_large
    assert len(response.body) == min(size, 51200)


def test_content_length_above_the_cap_is_not_read(pki, web):
    transport = NetworkTransport(nameservers=["127.0.0.1"], ca_path=pki["ca"], timeout=5)
    response = _get(transport, web, path="/claims-large")
    assert response.too_large is True
    assert response.body == b""


def test_proxy_environment_is_ignored(pki, web, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("https_proxy", "http://127.0.0.1:9")
    transport = NetworkTransport(nameservers=["127.0.0.1"], ca_path=pki["ca"], timeout=5)
    assert _get(transport, web).status == 200


def test_refused_connection_is_unreachable():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    transport = NetworkTransport(nameservers=["127.0.0.1"], timeout=5)
    with pytest.raises(TransportError) as caught:
        transport.https_get("127.0.0.1", port, "/", "matrix.test", "matrix.test",
                            51200)
    assert caught.value.kind == "unreachable"
    # The message names no private class of the collection.
    assert "Watched" not in caught.value.message


@pytest.mark.parametrize("path", ["/drip-headers", "/drip-body"])
def test_a_response_sent_one_byte_at_a_time_times_out_at_the_deadline(pki, web, path):
    # Each byte arrives well within the 1 s timeout of one read: only the deadline of the
    # whole request ends it. The bound below only proves "no hang" (the drip lasts 60 s).
    transport = NetworkTransport(nameservers=["127.0.0.1"], ca_path=pki["ca"], timeout=1)
    started = time.monotonic()
    with pytest.raises(TransportError) as caught:
        _get(transport, web, path=path)
    assert caught.value.kind == "timeout"
    assert "no complete response within 1 s" in caught.value.message
    assert time.monotonic() - started < 20


@pytest.mark.parametrize("path", ["/drip-headers", "/drip-body"])
def test_a_shorter_timeout_given_to_one_request_ends_it_sooner(pki, web, path):
    # What a name's time budget hands down (see _name_budget): the transport's own timeout
    # would let the drip go on for 30 s.
    transport = NetworkTransport(nameservers=["127.0.0.1"], ca_path=pki["ca"], timeout=30)
    started = time.monotonic()
    with pytest.raises(TransportError) as caught:
        transport.https_get("127.0.0.1", web.server_address[1], path, "matrix.test", "matrix.test",
                            51200, timeout=0.5)
    assert caught.value.kind == "timeout"
    assert "no complete response within 0.5 s" in caught.value.message
    assert time.monotonic() - started < 10


def test_a_shorter_timeout_given_to_one_probe_ends_it_sooner(pki, web):
    transport = NetworkTransport(nameservers=["127.0.0.1"], ca_path=pki["ca"], timeout=30)
    started = time.monotonic()
    probe = transport.probe_federation("127.0.0.1", web.server_address[1], "matrix.test", "matrix.test",
                                       ["/drip-body"], timeout=0.5)
    assert probe["responses"]["/drip-body"]["error_kind"] == "timeout"
    assert "within 0.5 s" in probe["responses"]["/drip-body"]["error"]
    assert time.monotonic() - started < 10


def test_a_longer_timeout_given_to_one_request_does_not_extend_the_transports(pki, web):
    transport = NetworkTransport(nameservers=["127.0.0.1"], ca_path=pki["ca"], timeout=0.5)
    with pytest.raises(TransportError) as caught:
        transport.https_get("127.0.0.1", web.server_address[1], "/drip-body", "matrix.test", "matrix.test", 51200, timeout=60)
    assert "no complete response within 0.5 s" in caught.value.message


@pytest.fixture()
def slow_handshake():
    """A TCP server that starts a TLS handshake record and then sends one byte every 0.2 s."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, dummy = listener.accept()
            except OSError:
                continue
            with connection:
                try:
                    connection.recv(4096)  # the ClientHello
                    connection.sendall(b"\x16\x03\x03\x40\x00")  # a 16 KiB handshake record
                    while not stop.is_set():
                        connection.sendall(b"\x00")
                        time.sleep(0.2)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(5)
    listener.close()


def test_a_tls_handshake_sent_one_byte_at_a_time_times_out_at_the_deadline(pki, slow_handshake):
    transport = NetworkTransport(nameservers=["127.0.0.1"], ca_path=pki["ca"], timeout=1)
    started = time.monotonic()
    with pytest.raises(TransportError) as caught:
        transport.https_get("127.0.0.1", slow_handshake, "/", "matrix.test", "matrix.test", 51200)
    assert caught.value.kind == "timeout"
    assert time.monotonic() - started < 20


def test_a_federation_probe_of_a_slow_handshake_times_out_at_the_deadline(pki, slow_handshake):
    transport = NetworkTransport(nameservers=["127.0.0.1"], ca_path=pki["ca"], timeout=1)
    started = time.monotonic()
    probe = transport.probe_federation("127.0.0.1", slow_handshake, "matrix.test", "matrix.test",
                                       ["/_matrix/federation/v1/version"])
    assert probe["error"]["kind"] == "timeout"
    assert "deadline" in probe["error"]["message"]
    assert time.monotonic() - started < 20


@pytest.mark.parametrize("path", ["/drip-headers", "/drip-body"])
def test_a_federation_probe_answered_one_byte_at_a_time_times_out_at_the_deadline(pki, web, path):
    transport = NetworkTransport(nameservers=["127.0.0.1"], ca_path=pki["ca"], timeout=1)
    started = time.monotonic()
    probe = transport.probe_federation("127.0.0.1", web.server_address[1], "matrix.test", "matrix.test",
                                       [path, "/"])
    assert probe["error"] is None and probe["tls"]["verified"] is True
    assert probe["responses"][path]["error_kind"] == "timeout"
    # The deadline is the probe's: the request after it is not sent.
    assert probe["responses"]["/"]["error_kind"] == "timeout"
    assert time.monotonic() - started < 20


@pytest.mark.parametrize("address, internal", [
    ("127.0.0.1", True), ("127.77.3.100", True), ("10.1.2.3", True), ("172.16.0.1", True),
    ("172.31.255.255", True), ("192.168.1.1", True), ("100.64.0.1", True), ("100.127.255.254", True),
    ("169.254.169.254", True), ("0.0.0.0", True), ("::1", True), ("::", True), ("fd00::1", True),
    ("fc00::1", True), ("fe80::1", True), ("fe80::1%lo", True), ("::ffff:127.0.0.1", True),
    ("::ffff:10.0.0.1", True), ("::ffff:169.254.169.254", True), ("[::1]", True),
    ("8.8.8.8", False), ("42.0.0.10", False), ("172.32.0.1", False), ("100.128.0.1", False),
    ("192.0.2.10", False), ("198.51.100.1", False), ("203.0.113.5", False), ("2001:db8::1", False),
    ("2a01:4f8::1", False), ("::ffff:8.8.8.8", False), ("matrix.example.org", False),
])
def test_internal_addresses_are_exactly_the_listed_ranges(address, internal):
    assert _transport.is_internal_address(address) is internal


def test_unknown_ca_path_is_a_config_error(tmp_path):
    bad = tmp_path / "not-a-ca.pem"
    bad.write_text("nothing")
    with pytest.raises(TransportError) as caught:
        NetworkTransport(nameservers=["127.0.0.1"], ca_path=str(bad))
    assert caught.value.kind == "config"


# --- a UDP DNS server --------------------------------------------------------------------

ZONE = {
    ("_matrix-fed._tcp.example.test", "SRV"): ["10 5 8448 target.example.test.",
                                               "20 0 443 backup.example.test."],
    ("target.example.test", "A"): ["42.0.0.1"],
    ("target.example.test", "AAAA"): ["2a01:4f8::1"],
    ("real.example.test", "A"): ["42.0.0.2"],
}
LOSSY_QUERIES = []
CNAMES = {"alias.example.test": "hop.example.test", "hop.example.test": "real.example.test"}
EXISTING = {"target.example.test", "real.example.test", "hop.example.test", "alias.example.test",
            "_matrix-fed._tcp.example.test", "backup.example.test"}


def _answer(query):
    question = query.question[0]
    name = question.name.to_text().rstrip(".")
    rdtype = dns.rdatatype.to_text(question.rdtype)
    response = dns.message.make_response(query)
    if name == "servfail.example.test":
        response.set_rcode(dns.rcode.SERVFAIL)
        return response
    if name == "silent.example.test":
        return None
    if name == "lossy.example.test":
        # The first query for this name is "lost"; the ones after it are answered.
        LOSSY_QUERIES.append(query.id)
        if len(LOSSY_QUERIES) == 1:
            return None
        response.answer.append(dns.rrset.from_text(name + ".", 60, "IN", "A", "42.0.0.3"))
        return response
    while name in CNAMES:
        response.answer.append(dns.rrset.from_text(name + ".", 60, "IN", "CNAME",
                                                   CNAMES[name] + "."))
        name = CNAMES[name]
    records = ZONE.get((name, rdtype))
    if records:
        response.answer.append(dns.rrset.from_text_list(name + ".", 60, "IN", rdtype, records))
    elif name not in EXISTING:
        response.set_rcode(dns.rcode.NXDOMAIN)
    return response


@pytest.fixture(scope="module")
def dns_port():
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    stop = threading.Event()

    def serve():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                wire, peer = server.recvfrom(4096)
            except socket.timeout:
                continue
            response = _answer(dns.message.from_wire(wire))
            if response is not None:
                server.sendto(response.to_wire(), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()


@pytest.fixture
def resolver_transport(dns_port):
    return NetworkTransport(nameservers=["127.0.0.1"], dns_port=dns_port, timeout=1)


def test_srv_records(resolver_transport):
    answer = resolver_transport.query_srv("_matrix-fed._tcp.example.test")
    assert answer.rcode == "NOERROR"
    assert sorted((r.priority, r.weight, r.port, r.target) for r in answer.records) == [
        (10, 5, 8448, "target.example.test."), (20, 0, 443, "backup.example.test.")]


@pytest.mark.parametrize("name, rcode", [
    ("_matrix._tcp.example.test", "NXDOMAIN"),
    ("target.example.test", "NODATA"),
    ("servfail.example.test", "SERVFAIL"),
    ("silent.example.test", "TIMEOUT"),
])
def test_srv_failures_are_rcodes_not_exceptions(resolver_transport, name, rcode):
    answer = resolver_transport.query_srv(name)
    assert answer.rcode == rcode
    assert answer.records == []


@pytest.mark.parametrize("host, family, rcode, addresses, chain", [
    ("target.example.test", "A", "NOERROR", ["42.0.0.1"], []),
    ("target.example.test", "AAAA", "NOERROR", ["2a01:4f8::1"], []),
    ("alias.example.test", "A", "NOERROR", ["42.0.0.2"], ["hop.example.test", "real.example.test"]),
    ("alias.example.test", "AAAA", "NODATA", [], ["hop.example.test", "real.example.test"]),
    ("missing.example.test", "A", "NXDOMAIN", [], []),
    ("servfail.example.test", "AAAA", "SERVFAIL", [], []),
])
def test_address_queries_follow_cnames(resolver_transport, host, family, rcode, addresses, chain):
    answer = resolver_transport.query_address(host, family)
    assert (answer.rcode, answer.addresses, answer.cname_chain) == (rcode, addresses, chain)


def test_headers_are_case_insensitive_and_multi_valued():
    headers = Headers([("Set-Thing", "1"), ("set-thing", "2"), ("Other", "x")])
    assert headers.get_all("SET-THING") == ["1", "2"]
    assert headers.get("set-thing") == "2"
    assert headers.get("missing", "default") == "default"
    assert "other" in headers
    assert headers.to_dict() == {"set-thing": "1, 2", "other": "x"}


@pytest.mark.parametrize("host, expected", [
    ("example.com", "example.com"), ("42.0.0.1", "42.0.0.1"), ("::1", "[::1]"), ("[::1]", "[::1]"),
])
def test_url_host(host, expected):
    assert url_host(host) == expected


def test_a_lost_dns_answer_is_retried_within_the_timeout(dns_port, monkeypatch):
    # A single lost UDP packet must not fail a name while the timeout still runs.
    monkeypatch.setattr(_transport, "DNS_RETRY_SECONDS", 0.3)
    transport = NetworkTransport(nameservers=["127.0.0.1"], dns_port=dns_port, timeout=5)
    answer = transport.query_address("lossy.example.test", "A")
    assert answer.rcode == "NOERROR"
    assert answer.addresses == ["42.0.0.3"]
    assert len(LOSSY_QUERIES) >= 2


def test_a_shorter_timeout_given_to_one_dns_query_ends_it_sooner():
    # A name server that never answers (UDP or TCP): the transport's own 30 s would hold.
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    tcp = socket.create_server(("127.0.0.1", udp.getsockname()[1]))
    try:
        transport = NetworkTransport(nameservers=["127.0.0.1"], dns_port=udp.getsockname()[1], timeout=30)
        started = time.monotonic()
        srv = transport.query_srv("_matrix-fed._tcp.silent.test", timeout=0.5)
        address = transport.query_address("silent.test", "A", timeout=0.5)
        assert (srv.rcode, address.rcode) == ("TIMEOUT", "TIMEOUT")
        assert time.monotonic() - started < 10
    finally:
        udp.close()
        tcp.close()


@pytest.mark.parametrize("parallel", [False, True], ids=["one-after-the-other", "at-once"])
def test_one_host_lookup_answers_each_host_in_order_ipv6_first(parallel):
    from fake_transport import FakeTransport
    from ansible_collections.homeserver.delegation.plugins.module_utils import _loop

    class Counting(FakeTransport):
        """Answers after a wait on the loop and counts the queries in flight."""
        in_flight = most = 0

        async def aquery_address(self, host, family):
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
            await _loop.sleep(0.01)
            self.in_flight -= 1
            return self.query_address(host, family)

    transport = Counting({"AAAA": {"a.test": ["2001:db8::1"]},
                          "A": {"a.test": ["192.0.2.1"], "b.test": ["192.0.2.2"]}})
    resolved = _loop.run(_transport.lookup_host_addresses(transport, ["a.test", "b.test", "c.test"], parallel))
    assert [(item.host, item.addresses) for item in resolved] == [
        ("a.test", ["2001:db8::1", "192.0.2.1"]), ("b.test", ["192.0.2.2"]), ("c.test", [])]
    assert (resolved[1].aaaa.rcode, resolved[2].a.rcode) == ("NODATA", "NXDOMAIN")
    # At once: all six queries wait together; otherwise one at a time, in order.
    assert transport.most == (6 if parallel else 1)
    expected = ["%s %s" % (family, host) for host in ("a.test", "b.test", "c.test") for family in ("AAAA", "A")]
    assert (sorted(transport.log) if parallel else transport.log) == (sorted(expected) if parallel else expected)
