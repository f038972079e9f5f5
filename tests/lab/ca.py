"""A test certificate authority (internal to the test lab).

ECDSA P-256 everywhere: handshakes stay cheap, which matters when a benchmark opens hundreds
of TLS connections. Every PEM is written to the CA's directory; private keys are 0600.

    ca = CertificateAuthority(tmp_path / 'ca')
    good = ca.issue(['example.test'])                       # leaf for a DNS name
    literal = ca.issue(ip_addresses=['127.77.0.20'])        # leaf for an IP literal
    expired = ca.issue(['example.test'], expired=True)
    wrong = ca.issue(['not-example.test'])                  # the wrong name, same CA
    rogue = ca.issue(['example.test'], self_signed=True)    # not signed by the CA
    requests.get(url, verify=str(ca.ca_path))
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass
class Certificate:
    """A leaf certificate on disk."""

    cert_path: Path
    key_path: Path
    dns_names: list[str] = field(default_factory=list)
    ip_addresses: list[str] = field(default_factory=list)
    not_after: datetime.datetime | None = None


def _write_private_key(path: Path, key) -> None:
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'wb') as handle:
        handle.write(data)
    os.chmod(path, 0o600)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


class CertificateAuthority:
    """A root CA whose certificate is `ca_path`; issues leaf certificates for tests."""

    def __init__(self, directory: Path, common_name: str = 'homeserver.delegation test CA'):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        now = _now()
        public_key = self._key.public_key()
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(subject).issuer_name(subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        self.ca_path = self.directory / 'ca.crt'
        self.ca_path.write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))
        self._counter = 0

    def issue(self, dns_names=(), ip_addresses=(), *, label: str | None = None,
              expired: bool = False, self_signed: bool = False,
              days: int = 30) -> Certificate:
        """Issue a server certificate with the given DNS and IP SANs.

        `expired` makes a certificate whose validity ended yesterday; `self_signed` one signed
        by its own key (so not trusted through `ca_path`). The file names start with `label`
        (default: the first name).
        """
        dns_names = list(dns_names)
        ip_addresses = [str(ipaddress.ip_address(ip)) for ip in ip_addresses]
        if not dns_names and not ip_addresses:
            raise ValueError('a certificate needs at least one DNS name or IP address')
        self._counter += 1
        base = label or (dns_names + ip_addresses)[0]
        base = re.sub(r'[^A-Za-z0-9._-]', '_', base)
        stem = f'{self._counter:04d}-{base}'
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, (dns_names + ip_addresses)[0])])
        now = _now()
        if expired:
            not_before, not_after = now - datetime.timedelta(days=30), now - datetime.timedelta(days=1)
        else:
            not_before, not_after = now - datetime.timedelta(hours=1), now + datetime.timedelta(days=days)
        sans = [x509.DNSName(name) for name in dns_names]
        sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject if self_signed else self._cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        )
        if not self_signed:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                critical=False)
        cert = builder.sign(key if self_signed else self._key, hashes.SHA256())
        cert_path = self.directory / f'{stem}.crt'
        key_path = self.directory / f'{stem}.key'
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_private_key(key_path, key)
        return Certificate(cert_path, key_path, dns_names, ip_addresses, not_after)
