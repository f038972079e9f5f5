# Copyright (c) 2026, homeserver.delegation developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Each module needs only its own Python libraries, and names a missing one clearly."""

from __future__ import annotations

import datetime
import http.server
import socket
import ssl
import threading

import pytest


@pytest.mark.parametrize("module, args, blocked, library", [
    pytest.param("srv_info", {"name": "example.org"}, ["dns"], "dnspython", id="srv_info-without-dnspython"),
    pytest.param("srv_record", {"server_name": "example.org", "server": "127.0.0.1", "zone": "example.org",
                                "key_name": "k", "key_secret": "c2VjcmV0",
                                "targets": [{"target": "matrix.example.org", "port": 8448}]},
                 ["dns"], "dnspython", id="srv_record-without-dnspython"),
    pytest.param("well_known_info", {"server_name": "example.org"}, ["dns"], "dnspython",
                 id="well_known_info-without-dnspython"),
    pytest.param("federation_check", {"server_names": ["example.org"]}, ["cryptography"], "cryptography",
                 id="federation_check-without-cryptography"),
])
def test_a_missing_library_fails_with_its_name(run_module, module, args, blocked, library):
    returncode, result = run_module(module, args, blocked)
    assert returncode == 1 and result["failed"] is True
    assert result["msg"].startswith("Failed to import the required Python library (%s)" % library)
    assert "Traceback" not in result["msg"]


@pytest.fixture
def silent_dns():
    """The port of a DNS server on loopback that never answers."""
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    yield silent.getsockname()[1]
    silent.close()


def test_srv_info_works_without_requests_or_cryptography(run_module, silent_dns):
    # The module runs and reports the failed lookups instead of failing for want of a library
    # it does not need.
    returncode, result = run_module("srv_info", {
        "name": "example.org", "nameservers": ["127.0.0.1"], "dns_port": silent_dns, "timeout": 0.3},
        ["requests", "urllib3", "cryptography"])
    assert returncode == 0 and not result.get("failed"), result
    assert [problem["code"] for problem in result["problems"]] == ["srv_lookup_failed", "srv_lookup_failed"]
    assert "TIMEOUT" in result["problems"][0]["message"]


def test_well_known_info_works_without_requests_or_cryptography(run_module, silent_dns):
    returncode, result = run_module("well_known_info", {
        "server_name": "example.org", "nameservers": ["127.0.0.1"], "dns_port": silent_dns, "timeout": 0.3},
        ["requests", "urllib3", "cryptography"])
    assert "Failed to import" not in result.get("msg", ""), result
    assert "no_address" in [problem["code"] for problem in result["problems"]], result


@pytest.fixture
def federation_server(tmp_path):
    """An HTTPS server on 127.0.0.1 (self-signed certificate) answering the federation version."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
                   .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    pem = tmp_path / "server.pem"
    pem.write_bytes(certificate.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):  # noqa: N802 (http.server's naming)
            body = b'{"server": {"name": "Test", "version": "1"}}'
            self.send_response(200 if self.path == "/_matrix/federation/v1/version" else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(pem))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_federation_check_makes_its_https_requests_without_requests(run_module, federation_server):
    # HTTPS goes through Python's own http.client: with requests (and urllib3) not importable,
    # the module connects, and reports the server's version answer.
    returncode, result = run_module("federation_check", {
        "server_names": ["127.0.0.1:%d" % federation_server], "validate_certs": False, "timeout": 5},
        ["requests", "urllib3"])
    assert "Failed to import" not in result.get("msg", ""), result
    (connection,) = result["servers"]["127.0.0.1:%d" % federation_server]["connections"]
    assert connection["version"] == {"status": 200, "server": {"name": "Test", "version": "1"}}
