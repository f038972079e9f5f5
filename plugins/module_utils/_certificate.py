# Copyright (c) 2026, homeserver.delegation developers
# Simplified BSD License (see https://opensource.org/licenses/BSD-2-Clause)
# SPDX-License-Identifier: BSD-2-Clause

"""What a federation target's certificate says, and which problems it has for a name.

This module is internal to the homeserver.delegation collection and may change at any time.
"""

from __future__ import annotations

import datetime
import ipaddress

from ansible_collections.homeserver.delegation.plugins.module_utils._dependencies import NameOID, x509
from ansible_collections.homeserver.delegation.plugins.module_utils._problems import problem

# A certificate closer than this to its end is reported (a warning), so renewal gets noticed.
EXPIRY_WARNING_DAYS = 14

# OpenSSL verification results that are about the name or the validity period; every other
# failure is about the chain of trust.
_X509_V_ERR_CERT_NOT_YET_VALID = 9
_X509_V_ERR_CERT_HAS_EXPIRED = 10
_X509_V_ERR_HOSTNAME_MISMATCH = 62
_X509_V_ERR_IP_ADDRESS_MISMATCH = 64
_NAME_OR_TIME_ERRORS = (_X509_V_ERR_CERT_NOT_YET_VALID, _X509_V_ERR_CERT_HAS_EXPIRED,
                        _X509_V_ERR_HOSTNAME_MISMATCH, _X509_V_ERR_IP_ADDRESS_MISMATCH)


def _utc(value):
    return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)


def _validity(certificate):
    # cryptography >= 42 has the timezone-aware properties; older ones only the naive ones.
    not_before = getattr(certificate, "not_valid_before_utc", None) or _utc(certificate.not_valid_before)
    not_after = getattr(certificate, "not_valid_after_utc", None) or _utc(certificate.not_valid_after)
    return not_before, not_after


def describe_certificate(der, now):
    """Return subject, issuer, validity, days_remaining, dns_names and ip_addresses of a DER certificate."""
    certificate = x509.load_der_x509_certificate(der)
    not_before, not_after = _validity(certificate)
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns_names = san.get_values_for_type(x509.DNSName)
        ip_addresses = [str(address) for address in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        dns_names, ip_addresses = [], []
    common_names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return {
        "subject": certificate.subject.rfc4514_string(),
        "common_name": common_names[0].value if common_names else None,
        "issuer": certificate.issuer.rfc4514_string(),
        "serial_number": "%x" % certificate.serial_number,
        "not_before": not_before.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "not_after": not_after.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "days_remaining": int((not_after - now).total_seconds() // 86400),
        "dns_names": list(dns_names),
        "ip_addresses": ip_addresses,
        "_not_before": not_before,
        "_not_after": not_after,
    }


def _dns_name_matches(pattern, name):
    """RFC 6125 matching: case-insensitive, a wildcard only as the whole left-most label."""
    pattern = pattern.lower().rstrip(".")
    name = name.lower().rstrip(".")
    if pattern == name:
        return True
    if not pattern.startswith("*."):
        return False
    pattern_rest = pattern[2:]
    head, dot, name_rest = name.partition(".")
    return bool(head) and bool(dot) and name_rest == pattern_rest and "." in pattern_rest


def certificate_matches(description, tls_server_name):
    """True when the certificate's subjectAltName covers tls_server_name (a DNS name or IP)."""
    try:
        wanted_ip = ipaddress.ip_address(tls_server_name.strip("[]"))
    except ValueError:
        wanted_ip = None
    if wanted_ip is not None:
        return any(ipaddress.ip_address(address) == wanted_ip for address in description["ip_addresses"])
    return any(_dns_name_matches(pattern, tls_server_name) for pattern in description["dns_names"])


def certificate_problems(tls, description, tls_server_name, now, validate_certs=True):
    """Problems of a TLS session's certificate for tls_server_name.

    tls is the transport's TLS report (verified, verify_code, verify_message); description
    comes from describe_certificate (or None when the server sent none). With validate_certs
    false the problems are warnings: the user chose not to enforce them.
    Codes: certificate_untrusted, certificate_name_mismatch, certificate_expired,
    certificate_not_yet_valid, certificate_expires_soon (warning).
    """
    severity = "error" if validate_certs else "warning"
    problems = []
    if description is None:
        return [problem("certificate_untrusted", "the server sent no certificate", severity)]
    names = ", ".join(description["dns_names"] + description["ip_addresses"]) or "no subjectAltName at all"
    if not certificate_matches(description, tls_server_name):
        problems.append(problem(
            "certificate_name_mismatch",
            "the certificate is not valid for %s (it covers: %s); remote servers check this name, not the "
            "address or SRV target they connect to" % (tls_server_name, names), severity))
    if description["_not_after"] <= now:
        problems.append(problem(
            "certificate_expired", "the certificate expired on %s" % description["not_after"], severity))
    elif description["_not_before"] > now:
        problems.append(problem(
            "certificate_not_yet_valid", "the certificate is valid only from %s" % description["not_before"], severity))
    elif description["days_remaining"] < EXPIRY_WARNING_DAYS:
        problems.append(problem(
            "certificate_expires_soon",
            "the certificate expires on %s, in %d days" % (description["not_after"], description["days_remaining"]),
            "warning"))
    verify_code = tls.get("verify_code")
    if validate_certs and not tls.get("verified") and (verify_code not in _NAME_OR_TIME_ERRORS or not problems):
        problems.append(problem(
            "certificate_untrusted",
            "the certificate chain does not verify (%s, issuer %s): serve the full chain and use a CA that "
            "other servers trust" % (tls.get("verify_message") or "verification failed", description["issuer"]),
            severity))
    return problems


def public_description(description):
    """The description without the private datetime fields, fit for a module's return."""
    return dict((key, value) for key, value in description.items() if not key.startswith("_"))
