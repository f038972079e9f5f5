# Copyright (c) homeserver.delegation contributors
# Simplified BSD License (see https://opensource.org/licenses/BSD-2-Clause)
# SPDX-License-Identifier: BSD-2-Clause

"""Fetch and validate ``/.well-known/matrix/server`` (spec step 3).

This module is internal to the homeserver.delegation collection and may change at any time.

Rules (Server-Server API "Resolving server names", step 3, with Synapse's numbers):

- ``GET https://<hostname>/.well-known/matrix/server`` on port 443, TLS verified for the
  hostname, SNI and Host set to the hostname.
- Only a final 200 counts. 301, 302, 303, 307 and 308 are followed (across hosts, each new host
  resolved through the transport's DNS), at most 10 hops; a redirect to ``http://`` is refused
  (``insecure_redirect``), a URL seen before is a loop (``redirect_loop``). When the hostname
  resolved to at least one public address, a redirect whose host is an internal address or
  resolves to one (``_transport.is_internal_address``) is refused before connecting
  (``redirect_to_internal_address``), unless the transport's ``allow_internal_redirects``.
- A body of 51200 bytes or more (or a ``Content-Length`` above 51200) is refused.
- The body must be UTF-8 JSON (``NaN``/``Infinity`` rejected, like Synapse; at most 64 levels
  deep, see ``_json_document``) holding an object whose ``m.server`` is a string that passes
  the server-name grammar.
- The cache period comes from ``Cache-Control``/``Expires`` as Synapse reads them, clamped to
  300..172800 s, 86400 s when no header gives one; a failed fetch reports 3600 s (the spec's
  "errors are recommended to be cached for up to an hour").

``error_code`` values of :class:`WellKnownFetch`:

=================== ===================================================================
no_address          the hostname has no A/AAAA record, so no request could be made
unreachable         no connection could be made to any address (or DNS failed)
timeout             no response within the timeout
tls_invalid         the certificate is not trusted or not valid for the hostname
not_found           the final response was 404
http_error          the final response was another non-200 status (incl. 3xx without
                    Location and 300/304/305, which are not followed)
too_large           the body reached 51200 bytes
not_json            the body is not UTF-8 JSON
not_object          the JSON is not an object
missing_m_server    the object has no ``m.server``
invalid_m_server    ``m.server`` is not a string or not a valid server name
redirect_loop       a redirect led back to a URL already requested
too_many_redirects  more than 10 redirects
insecure_redirect   a redirect to a non-https URL
redirect_to_internal_address
                    a redirect from a name that resolves to public addresses leads to an
                    internal one (loopback, private, link-local; see
                    ``_transport.is_internal_address``): refused before connecting, unless
                    the transport's ``allow_internal_redirects`` is true
=================== ===================================================================
"""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass, field
from datetime import timezone
from urllib.parse import urljoin, urlsplit

from ansible_collections.homeserver.delegation.plugins.module_utils._loop import call
from ansible_collections.homeserver.delegation.plugins.module_utils._json_document import (
    JsonDocumentError,
    parse_json_body,
)
from ansible_collections.homeserver.delegation.plugins.module_utils._server_name import (
    ServerNameError,
    parse_server_name,
)
from ansible_collections.homeserver.delegation.plugins.module_utils._transport import (
    Headers,
    TransportError,
    is_internal_address,
    is_ip_address,
    lookup_one_host,
    url_host,
)

WELL_KNOWN_PATH = "/.well-known/matrix/server"
MAX_BODY_BYTES = 50 * 1024
MAX_REDIRECTS = 10
REDIRECT_STATUSES = frozenset((301, 302, 303, 307, 308))
DEFAULT_CACHE_SECONDS = 24 * 3600
MIN_CACHE_SECONDS = 5 * 60
MAX_CACHE_SECONDS = 48 * 3600
ERROR_CACHE_SECONDS = 3600

# Address errors a different address of the same host may not have.
_TRY_NEXT_ADDRESS = frozenset(("unreachable", "timeout"))


@dataclass
class WellKnownFetch:
    """Everything learnt from fetching one server well-known document.

    ``redirects`` lists ``{url, status, location}`` per followed hop; ``attempts`` lists
    ``{url, address, port, sni, outcome}`` per connection attempt (for traces);
    ``document`` is the parsed JSON object (also when ``m.server`` is invalid);
    ``delegated_server`` the parsed ``m.server`` when the document is valid.
    """

    hostname: str
    url: str
    final_url: str | None = None
    status: int | None = None
    redirects: list = field(default_factory=list)
    attempts: list = field(default_factory=list)
    content_type: str | None = None
    headers: dict = field(default_factory=dict)
    size: int | None = None
    document: object = None
    delegated_server: object = None
    error_code: str | None = None
    error: str | None = None
    cache_seconds: int = ERROR_CACHE_SECONDS
    peer_address: str | None = None
    # The addresses the host of the last requested URL resolved to (not reported).
    hop_addresses: list = field(default_factory=list)

    @property
    def valid(self):
        """Whether the document is usable (a valid ``m.server`` was found)."""
        return self.error_code is None and self.delegated_server is not None

    def to_dict(self):
        """A JSON-friendly dict of the fetch (``delegated_server`` as a string)."""
        return {
            "hostname": self.hostname,
            "url": self.url,
            "final_url": self.final_url,
            "status": self.status,
            "redirects": [dict(hop) for hop in self.redirects],
            "attempts": [dict(attempt) for attempt in self.attempts],
            "content_type": self.content_type,
            "headers": dict(self.headers),
            "size": self.size,
            "document": self.document,
            "delegated_server": None if self.delegated_server is None
            else str(self.delegated_server),
            "valid": self.valid,
            "error_code": self.error_code,
            "error": self.error,
            "cache_seconds": self.cache_seconds,
            "peer_address": self.peer_address,
        }


def validate_server_document(body):
    """Validate a well-known server document body (bytes).

    Returns ``(document, delegated_server, error_code, message)``: on success
    ``error_code`` and ``message`` are None and ``delegated_server`` is a ServerName;
    otherwise ``error_code`` is one of not_json, not_object, missing_m_server,
    invalid_m_server (``document`` is still returned when the JSON parsed).
    """
    try:
        document = parse_json_body(body)
    except JsonDocumentError as exc:
        return None, None, "not_json", str(exc)
    if not isinstance(document, dict):
        return document, None, "not_object", (
            "the JSON is %s, not an object" % _json_type(document))
    if "m.server" not in document:
        return document, None, "missing_m_server", "the JSON object has no \"m.server\" key"
    value = document["m.server"]
    if not isinstance(value, str):
        return document, None, "invalid_m_server", (
            "\"m.server\" is %s, not a string" % _json_type(value))
    try:
        delegated_server = parse_server_name(value, what="m.server")
    except ServerNameError as exc:
        return document, None, "invalid_m_server", str(exc)
    return document, delegated_server, None, None


def _json_type(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _parse_cache_control(headers):
    # Synapse: split every Cache-Control header on ",", then on the first "=", strip,
    # lower-case the directive name; ";" is not a separator.
    directives = {}
    for header in headers.get_all("Cache-Control"):
        for directive in header.split(","):
            parts = [part.strip() for part in directive.split("=", 1)]
            directives[parts[0].lower()] = parts[1] if len(parts) > 1 else None
    return directives


def cache_period_from_headers(headers, now):
    """The cache period in seconds the response headers ask for, before clamping.

    As Synapse reads it: ``no-store`` gives 0; else a non-empty integer ``max-age``; else the
    last ``Expires`` minus ``now`` (an unparseable date gives 0); else None.
    ``headers`` is a :class:`Headers` or a mapping; ``now`` a Unix timestamp.
    """
    if not isinstance(headers, Headers):
        headers = Headers(headers)
    directives = _parse_cache_control(headers)
    if "no-store" in directives:
        return 0
    max_age = directives.get("max-age")
    if max_age:
        try:
            return int(max_age)
        except ValueError:
            pass
    expires = headers.get_all("Expires")
    if expires:
        try:
            expires_at = email.utils.parsedate_to_datetime(expires[-1])
        except (TypeError, ValueError, IndexError, OverflowError):
            return 0
        if expires_at is None:
            return 0
        if expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=timezone.utc)
        return int(expires_at.timestamp() - now)
    return None


def clamp_cache_period(period):
    """The cache period actually used for a valid document: 86400 s when ``period`` is None,
    otherwise ``period`` clamped to 300..172800 s."""
    if period is None:
        return DEFAULT_CACHE_SECONDS
    return max(min(period, MAX_CACHE_SECONDS), MIN_CACHE_SECONDS)


def well_known_url(hostname):
    """``https://<hostname>/.well-known/matrix/server`` for a bare hostname."""
    return "https://%s%s" % (url_host(hostname), WELL_KNOWN_PATH)


async def fetch_server_well_known(transport, hostname, resolve_addresses=None, now=None):
    """Fetch and validate the server well-known document of ``hostname`` (spec step 3).

    A coroutine of the engine's loop (``_loop``). ``hostname`` is the bare lookup name (see
    ``ServerName.lookup_name``). ``await resolve_addresses(host) -> HostAddresses`` resolves each host to connect to (the
    original one and every redirect target); by default AAAA then A through ``transport``.
    ``now`` (Unix time) is used for ``Expires``. Returns a :class:`WellKnownFetch`; never
    raises for network or content problems.
    """
    if resolve_addresses is None:
        def resolve_addresses(host):
            return lookup_one_host(transport, host)  # a coroutine, awaited by get_once
    if now is None:
        now = time.time()

    fetch = WellKnownFetch(hostname=hostname, url=well_known_url(hostname))
    response = await follow_redirects(transport, fetch, resolve_addresses)
    if response is None:
        return fetch
    return _evaluate_final(fetch, response, now)


async def follow_redirects(transport, fetch, resolve_addresses, on_response=None):
    """Request ``fetch.url`` and follow its redirects as homeservers do; return the final
    HttpResponse, or None after recording the error in ``fetch`` (``error_code``, ``error``).

    The one redirect-following fetch of both well-known documents: 301, 302, 303, 307 and 308
    with a ``Location`` are followed across hosts (each resolved by ``resolve_addresses``), at
    most :data:`MAX_REDIRECTS` hops, never to plain http (``insecure_redirect``), never back to
    a URL already requested (``redirect_loop``) nor, from a name with public addresses, to an
    internal address (``redirect_to_internal_address``). ``fetch`` records the hops
    (``redirects``), the attempts and the final status and headers.
    ``await on_response(url, response)``, when given, sees every response, redirects included
    (the client document's CORS check), and returns extra fields for the hop it redirects.
    """
    url = fetch.url
    visited = {url}
    refuse_internal = False
    while True:
        response = await get_once(transport, url, resolve_addresses, fetch, refuse_internal)
        if response is None:
            return None
        if not fetch.redirects:
            refuse_internal = refuses_internal_redirects(transport, fetch.hop_addresses)
        fetch.final_url = url
        fetch.status = response.status
        fetch.peer_address = response.peer_address
        fetch.headers = response.headers.to_dict()
        fetch.content_type = response.headers.get("Content-Type")
        extra = await on_response(url, response) if on_response is not None else None
        if response.status not in REDIRECT_STATUSES or not response.headers.get("Location"):
            return response
        location = response.headers.get("Location")
        next_url = urljoin(url, location.strip())
        fetch.redirects.append(dict({"url": url, "status": response.status, "location": location},
                                    **(extra or {})))
        if urlsplit(next_url).scheme.lower() != "https":
            _failed(fetch, "insecure_redirect", "%s redirects to %s, which is not https; a redirect may "
                    "never downgrade to plain HTTP" % (url, next_url))
            return None
        if len(fetch.redirects) > MAX_REDIRECTS:
            _failed(fetch, "too_many_redirects", "more than %d redirects starting at %s" % (MAX_REDIRECTS, fetch.url))
            return None
        if next_url in visited:
            _failed(fetch, "redirect_loop", "%s redirects to %s, which was already requested: a redirect loop"
                    % (url, next_url))
            return None
        visited.add(next_url)
        url = next_url


def refuses_internal_redirects(transport, origin_addresses):
    """Whether redirects to internal addresses are refused after a first request to a host
    that resolved to ``origin_addresses``: yes when one of them is public, unless the
    transport's ``allow_internal_redirects`` is true (for labs)."""
    if getattr(transport, "allow_internal_redirects", False):
        return False
    return any(not is_internal_address(address) for address in origin_addresses)


def _failed(fetch, code, message):
    fetch.error_code = code
    fetch.error = message
    fetch.cache_seconds = ERROR_CACHE_SECONDS
    return fetch


def _evaluate_final(fetch, response, now):
    url = fetch.final_url
    fetch.size = len(response.body)
    if response.status != 200:
        if response.status in REDIRECT_STATUSES:
            reason = "a redirect without a Location header"
        else:
            reason = "not 200"
        code = "not_found" if response.status == 404 else "http_error"
        return _failed(fetch, code, "%s returned HTTP %d (%s); only a 200 response counts"
                       % (url, response.status, reason))
    if response.too_large:
        fetch.size = None
        return _failed(fetch, "too_large", "%s returned a body of %d bytes or more; at most "
                       "%d bytes are read" % (url, MAX_BODY_BYTES, MAX_BODY_BYTES - 1))
    document, delegated_server, code, message = validate_server_document(response.body)
    fetch.document = document
    if code is not None:
        return _failed(fetch, code, "%s: %s" % (url, message))
    fetch.delegated_server = delegated_server
    fetch.cache_seconds = clamp_cache_period(cache_period_from_headers(response.headers, now))
    return fetch


async def get_once(transport, url, resolve_addresses, fetch, refuse_internal=False):
    """Request ``url`` once (no redirects), trying each address of its host in turn.

    ``refuse_internal``: ``url`` is a redirect target that may not lead to an internal
    address; if its host is one or resolves to one, nothing is requested.
    Returns the HttpResponse, or None after recording the error in ``fetch``.
    """
    parts = urlsplit(url)
    try:
        host = parts.hostname
        port = parts.port or 443
    except ValueError as exc:
        _failed(fetch, "http_error", "cannot request %s: %s" % (url, exc))
        return None
    if not host:
        _failed(fetch, "http_error", "cannot request %s: it has no host" % url)
        return None
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    host_header = url_host(host) + (":%d" % parts.port if parts.port else "")

    if is_ip_address(host):
        addresses = [host]
    else:
        resolved = await resolve_addresses(host)
        addresses = resolved.addresses
        if not addresses:
            code = "no_address" if not fetch.redirects else "unreachable"
            _failed(fetch, code, "cannot request %s: %s has no address (%s)"
                    % (url, host, resolved.describe()))
            return None
    fetch.hop_addresses = list(addresses)
    internal = [address for address in addresses if is_internal_address(address)]
    if refuse_internal and internal:
        _failed(fetch, "redirect_to_internal_address",
                "the redirects from %s lead to %s, at the internal address %s (loopback, private "
                "or link-local), although %s resolves to public addresses; refused without "
                "connecting (allow_internal_redirects allows it, for labs)"
                % (fetch.url, url, ", ".join(internal), urlsplit(fetch.url).hostname))
        return None

    last_error = None
    for address in addresses:
        attempt = {"url": url, "address": address, "port": port, "sni": None if is_ip_address(host) else host}
        fetch.attempts.append(attempt)
        try:
            response = await call(transport, "https_get", address, port, path, host_header, host, MAX_BODY_BYTES)
        except TransportError as exc:
            attempt["outcome"] = "%s: %s" % (exc.kind, exc.message)
            last_error = exc
            if exc.kind in _TRY_NEXT_ADDRESS:
                continue
            break
        attempt["outcome"] = "HTTP %d" % response.status
        return response
    # A failed handshake is a certificate the client cannot accept, as homeservers see it.
    kind = {"timeout": "timeout", "tls_invalid": "tls_invalid", "tls_handshake": "tls_invalid"}.get(
        last_error.kind, "unreachable")
    _failed(fetch, kind, "cannot request %s: %s" % (url, last_error.message))
    return None
