# Copyright (c) 2026, homeserver.delegation developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""FakeTransport plus what the verification modules need: per-address answers and targets.

``address_responses``: {(address, url): response spec} answers an HTTPS GET to one address
differently from the others (split brain). ``targets``: {(address, port): FakeTarget} answers
``probe_federation``. Certificates and keys are real (cryptography), made by the helpers.
"""

from __future__ import annotations

import datetime
import ipaddress
import json

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from ansible_collections.homeserver.delegation.plugins.module_utils._transport import Headers, HttpResponse, TransportError

from ansible_collections.homeserver.delegation.tests.unit.fake_transport import FakeTransport, body_of
from ansible_collections.homeserver.delegation.tests.unit.matrix_signing import encode_verify_key, sign_json

NOW = datetime.datetime(2026, 6, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)
NOW_MS = int(NOW.timestamp() * 1000)
_CERT_KEY = ec.generate_private_key(ec.SECP256R1())


def make_certificate(dns_names=(), ip_addresses=(), not_before=NOW - datetime.timedelta(days=30),
                     not_after=NOW + datetime.timedelta(days=60)):
    """A DER certificate with the given subjectAltNames and validity."""
    names = [x509.DNSName(name) for name in dns_names]
    names += [x509.IPAddress(ipaddress.ip_address(address)) for address in ip_addresses]
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, (list(dns_names) + list(ip_addresses) + ["x"])[0])])
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
               .public_key(_CERT_KEY.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(not_before).not_valid_after(not_after))
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(_CERT_KEY, hashes.SHA256()).public_bytes(Encoding.DER)


def key_response(server_name, signing_key=None, valid_until_ts=NOW_MS + 86_400_000, key_id="ed25519:auto"):
    """A signed /_matrix/key/v2/server body (bytes) as Synapse serves it."""
    signing_key = signing_key or Ed25519PrivateKey.generate()
    document = {"server_name": server_name, "valid_until_ts": valid_until_ts, "old_verify_keys": {},
                "verify_keys": {key_id: {"key": encode_verify_key(signing_key)}}}
    return json.dumps(sign_json(document, server_name, key_id, signing_key)).encode()


VERSION_BODY = json.dumps({"server": {"name": "Synapse", "version": "1.140.0"}}).encode()


def good_target(server_name, tls_name, **overrides):
    """The probe result of a healthy homeserver: verified TLS for tls_name, /version, signed keys."""
    target = {
        "error": None,
        "tls": {"verified": True, "verify_code": None, "verify_message": None, "version": "TLSv1.3",
                "cipher": "TLS_AES_256_GCM_SHA384",
                "certificate_der": make_certificate(ip_addresses=[tls_name]) if _is_ip(tls_name)
                else make_certificate([tls_name])},
        "responses": {
            "/_matrix/federation/v1/version": {"status": 200, "body": VERSION_BODY, "too_large": False, "error": None},
            "/_matrix/key/v2/server": {"status": 200, "body": key_response(server_name), "too_large": False,
                                       "error": None},
        },
    }
    for key, value in overrides.items():
        if key in target["responses"]:
            target["responses"][key] = value
        else:
            target[key] = value
    return target


def _is_ip(text):
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


class FakeFederationTransport(FakeTransport):
    """FakeTransport with per-address HTTP answers and federation targets."""

    def __init__(self, dns=None, responses=None, address_responses=None, targets=None, validate_certs=True):
        super().__init__(dns, responses)
        self.address_responses = address_responses or {}
        self.targets = targets or {}
        self.validate_certs = validate_certs
        self.probe_calls = []

    def https_get(self, address, port, path, host_header, tls_server_name, max_bytes, extra_headers=None,
                  method="GET"):
        url = "https://%s%s" % (host_header, path)
        spec = self.address_responses.get((address, url)) if method == "GET" else None
        if spec is None:
            return super().https_get(address, port, path, host_header, tls_server_name, max_bytes, extra_headers,
                                     method)
        self._record("GET %s via %s" % (url, address))
        if spec.get("fetch_error"):
            kind = spec["fetch_error"].split()[0]
            raise TransportError(kind, spec["fetch_error"])
        body = body_of(spec)
        too_large = len(body) >= max_bytes
        return HttpResponse(url=url, status=spec["status"], headers=Headers(spec.get("headers") or {}),
                            body=b"" if too_large else body, too_large=too_large, peer_address=address)

    def probe_federation(self, address, port, tls_server_name, host_header, paths):
        self._record("PROBE %s %d" % (address, port))
        with self._lock:
            self.probe_calls.append({"address": address, "port": port, "tls_server_name": tls_server_name,
                                     "host_header": host_header, "paths": list(paths)})
        target = self.targets.get((address, port))
        if target is None:
            return {"error": {"kind": "refused", "message": "connection refused"}, "tls": None, "responses": {}}
        return target
