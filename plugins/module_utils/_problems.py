# Copyright (c) 2026, homeserver.delegation developers
# Simplified BSD License (see https://opensource.org/licenses/BSD-2-Clause)
# SPDX-License-Identifier: BSD-2-Clause

"""Every problem code the checks report, once: its severity, a one-line title, its docs anchor.

This module is internal to the homeserver.delegation collection and may change at any time.

A problem is the dict ``{code, severity, message}``; build it with :func:`problem`, which
refuses a code that is not registered here. ``docs/troubleshooting.md`` has one section per
code (a unit test holds the two together); :data:`PROBLEMS` maps each code to its
:class:`ProblemKind`. The severity here is the usual one; a caller passes another only where
the troubleshooting section says so (for example the certificate codes are warnings when
certificate validation is off, and ``redirect_to_internal_address`` is a warning when
discovery falls back instead of failing).
"""

from __future__ import annotations

from collections import namedtuple

SEVERITIES = ("error", "warning", "info")
#: Where every code is explained; the anchor of a code is appended after ``#``.
TROUBLESHOOTING_DOC = "docs/troubleshooting.md"

ProblemKind = namedtuple("ProblemKind", ("code", "severity", "title", "anchor"))

_KINDS = (
    # Server name
    ("invalid_server_name", "error", "The name does not follow the server-name grammar"),
    ("unresolvable", "error", "Discovery found no address to connect to"),
    ("ip_literal_server_name", "warning", "The server name or m.server is an IP address"),
    ("server_name_uppercase", "warning", "The server name has upper-case letters"),
    ("server_name_too_long", "warning", "The server name is longer than 230 characters"),
    ("name_timeout", "error", "The name's time budget ran out"),
    # Server well-known document
    ("not_found", "error", "The well-known document answers 404"),
    ("http_error", "error", "The well-known document answers another status than 200 or 404"),
    ("not_json", "error", "The document is not JSON"),
    ("not_object", "error", "The document is JSON but not an object"),
    ("missing_m_server", "error", "The server document has no m.server"),
    ("invalid_m_server", "error", "m.server is not a valid server name"),
    ("too_large", "error", "The body reached 51200 bytes"),
    ("redirect_loop", "error", "The redirects lead back to a URL already requested"),
    ("too_many_redirects", "error", "More than 10 redirects"),
    ("insecure_redirect", "error", "A redirect points to http://"),
    ("redirect_to_internal_address", "error", "A redirect leads from a public name to an internal address"),
    ("tls_invalid", "error", "The certificate on port 443 is not valid for the hostname"),
    ("timeout", "error", "No complete answer within the timeout"),
    ("unreachable", "error", "No connection to the hostname on port 443"),
    ("no_address", "error", "The hostname has no A or AAAA record"),
    ("wrong_content_type", "warning", "The document is not served as application/json"),
    ("cache_period", "warning", "The cache lifetime asked for is outside 5 minutes to 48 hours"),
    ("inconsistent", "error", "The addresses of the hostname serve different documents"),
    ("mismatch", "error", "What is served differs from what was expected"),
    # Client well-known document
    ("missing_cors", "error", "A response lacks Access-Control-Allow-Origin"),
    ("duplicate_cors", "error", "Access-Control-Allow-Origin is sent twice"),
    ("incomplete_cors", "warning", "Access-Control-Allow-Methods or -Headers lack values of the specification"),
    ("preflight_failed", "warning", "The OPTIONS preflight gets no 2xx answer"),
    ("preflight_missing_cors", "warning", "The preflight answer is refused by browsers"),
    ("missing_base_url", "error", "The client document has no m.homeserver.base_url"),
    ("invalid_base_url", "error", "base_url is not an http(s) URL"),
    ("client_versions_failed", "error", "base_url does not lead to a client API"),
    # SRV records
    ("srv_lookup_failed", "error", "The SRV query failed (SERVFAIL, REFUSED, timeout)"),
    ("srv_unavailable", "error", "The only SRV target is '.': service not available"),
    ("srv_invalid_target", "warning", "A record with target '.' is mixed with real records"),
    ("target_is_cname", "error", "An SRV target is a CNAME"),
    ("target_unresolvable", "error", "An SRV target has no A or AAAA record"),
    ("legacy_only", "warning", "Only the deprecated _matrix._tcp service exists"),
    ("services_differ", "warning", "_matrix-fed._tcp and _matrix._tcp list different records"),
    # Discovery
    ("well_known_absent", "info", "No well-known; discovery used SRV or port 8448"),
    ("well_known_invalid", "warning", "A well-known answered but is unusable; discovery fell back"),
    ("well_known_unreachable", "warning", "No connection for the well-known; discovery fell back"),
    ("well_known_timeout", "warning", "The well-known request timed out; discovery fell back"),
    ("well_known_tls_invalid", "warning", "The well-known's certificate is not valid; discovery fell back"),
    ("well_known_redirected", "info", "The well-known was reached through redirects"),
    ("address_dns_error", "warning", "An A or AAAA query failed"),
    ("no_ipv6", "info", "The target has no AAAA record"),
    ("no_ipv4", "warning", "The target has no A record"),
    # Target addresses
    ("connection_failed", "error", "No TCP connection to a target address"),
    ("connection_timeout", "error", "The connection or a request to a target address timed out"),
    ("tls_handshake_failed", "error", "The TLS handshake with a target address failed"),
    ("certificate_untrusted", "error", "The certificate chain does not lead to a trusted CA"),
    ("certificate_name_mismatch", "error", "The certificate is not valid for the name remote servers check"),
    ("certificate_expired", "error", "The certificate has expired"),
    ("certificate_not_yet_valid", "error", "The certificate is not valid yet"),
    ("certificate_expires_soon", "warning", "The certificate expires within 14 days"),
    ("backup_target_failed", "warning", "A backup SRV target (used only when the preferred ones fail) fails"),
    ("version_unavailable", "error", "GET /_matrix/federation/v1/version failed"),
    ("version_invalid", "error", "The version endpoint does not answer a homeserver's JSON"),
    ("keys_unavailable", "error", "GET /_matrix/key/v2/server failed"),
    ("keys_invalid", "error", "The key response is not usable"),
    ("keys_server_name_mismatch", "error", "The key response is for another server name"),
    ("keys_expired", "error", "The keys' valid_until_ts is in the past"),
    ("keys_no_ed25519", "error", "No ed25519 verify key is listed"),
    ("keys_signature_invalid", "error", "The key response's signature does not verify"),
)

#: code -> ProblemKind, for every code the checks report.
PROBLEMS = dict((code, ProblemKind(code, severity, title, code)) for code, severity, title in _KINDS)


def problem(code, message, severity=None):
    """The problem dict ``{code, severity, message}`` of a registered ``code``.

    ``severity`` None gives the code's usual severity. Raises KeyError for an unregistered code
    and ValueError for an unknown severity: both are programming errors, caught by the tests.
    """
    kind = PROBLEMS[code]
    severity = kind.severity if severity is None else severity
    if severity not in SEVERITIES:
        raise ValueError("unknown severity %r for problem %s" % (severity, code))
    return {"code": code, "severity": severity, "message": message}


def anchor(code):
    """The anchor of ``code``'s section in docs/troubleshooting.md (the code itself when it is
    not registered, so a report of older results still links somewhere sensible)."""
    kind = PROBLEMS.get(code)
    return kind.anchor if kind is not None else code


def is_error(problems):
    """True when the list ``problems`` holds an error-severity problem."""
    return any(item["severity"] == "error" for item in problems)
