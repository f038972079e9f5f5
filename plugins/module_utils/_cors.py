# Copyright (c) 2026, homeserver.delegation developers
# Simplified BSD License (see https://opensource.org/licenses/BSD-2-Clause)
# SPDX-License-Identifier: BSD-2-Clause

"""CORS of the client well-known document, as a web client running in a browser meets it.

The Matrix specification asks servers that host the client document to offer CORS headers as
its "Web Browser Clients" section describes: ``Access-Control-Allow-Origin: *``,
``Access-Control-Allow-Methods: GET, POST, PUT, DELETE, OPTIONS`` and
``Access-Control-Allow-Headers: X-Requested-With, Content-Type, Authorization`` on all
requests, and to expect ``OPTIONS`` requests. A browser sends such an ``OPTIONS`` preflight
before the ``GET`` as soon as the client adds a header that is not CORS-safelisted (for example
``X-Requested-With`` or ``Authorization``); the preflight must succeed (a 2xx status, no
redirect), or the browser never sends the ``GET``. A response with more than one
``Access-Control-Allow-Origin`` value is refused by browsers.

This module is internal to the homeserver.delegation collection and may change at any time.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ansible_collections.homeserver.delegation.plugins.module_utils._loop import call
from ansible_collections.homeserver.delegation.plugins.module_utils._problems import problem
from ansible_collections.homeserver.delegation.plugins.module_utils._transport import (
    TransportError,
    is_ip_address,
    lookup_one_host,
    url_host,
)

#: The values the specification recommends.
SPEC_ALLOW_METHODS = ("GET", "POST", "PUT", "DELETE", "OPTIONS")
SPEC_ALLOW_HEADERS = ("X-Requested-With", "Content-Type", "Authorization")
#: What the preflight check sends: a web client on another origin that adds X-Requested-With.
PREFLIGHT_ORIGIN = "https://web-client.invalid"
PREFLIGHT_REQUEST_HEADER = "X-Requested-With"
#: A preflight answer has no body worth reading; this much is read at most.
PREFLIGHT_MAX_BYTES = 4096
_TRY_NEXT_ADDRESS = ("unreachable", "timeout")


def _tokens(values):
    """The comma-separated tokens of every value of a header, lower-cased."""
    return set(token.strip().lower() for value in values for token in value.split(",") if token.strip())


def _missing(headers, name, wanted):
    """The entries of ``wanted`` that header ``name`` does not allow (``*`` allows all)."""
    allowed = _tokens(headers.get_all(name))
    if "*" in allowed:
        return []
    return [entry for entry in wanted if entry.lower() not in allowed]


def _duplicate_origin(headers):
    values = headers.get_all("Access-Control-Allow-Origin")
    return values if len(values) > 1 or (values and "," in values[0]) else None


def _incomplete(url, what, headers):
    """An ``incomplete_cors`` warning when the spec's Allow-Methods/Allow-Headers are missing."""
    gaps = []
    for name, wanted in (("Access-Control-Allow-Methods", SPEC_ALLOW_METHODS),
                         ("Access-Control-Allow-Headers", SPEC_ALLOW_HEADERS)):
        missing = _missing(headers, name, wanted)
        if missing:
            gaps.append("%s %s" % (name, "is missing" if not headers.get_all(name)
                                   else "lacks %s" % ", ".join(missing)))
    if not gaps:
        return []
    return [problem(
        "incomplete_cors",
        "%s answers %s with Access-Control-Allow-Origin but %s; the specification asks for "
        "'Access-Control-Allow-Methods: %s' and 'Access-Control-Allow-Headers: %s' on every response"
        % (url, what, " and ".join(gaps), ", ".join(SPEC_ALLOW_METHODS), ", ".join(SPEC_ALLOW_HEADERS)))]


def document_cors_problems(url, headers):
    """Problems of the CORS headers of the client document's 200 answer (``headers``: Headers).

    ``duplicate_cors`` (error) for more than one Access-Control-Allow-Origin value, which
    browsers refuse; ``incomplete_cors`` (warning) when Allow-Methods or Allow-Headers lack
    what the specification recommends. A missing Allow-Origin is ``missing_cors``, reported by
    the caller.
    """
    duplicate = _duplicate_origin(headers)
    if duplicate:
        return [problem(
            "duplicate_cors",
            "%s answers with Access-Control-Allow-Origin %s: browsers refuse more than one value, so web "
            "clients cannot read the document; two layers (a proxy and the server behind it) both add it"
            % (url, " and ".join(repr(value) for value in duplicate)), "error")]
    if headers.get("Access-Control-Allow-Origin") is None:
        return []
    return _incomplete(url, "GET", headers)


async def _options(transport, url, headers):
    """One OPTIONS request to url through the transport (each address in turn, no redirect).

    Returns (response, None) or (None, message).
    """
    parts = urlsplit(url)
    try:
        host, port = parts.hostname, parts.port or 443
    except ValueError as exc:
        return None, "cannot request %s: %s" % (url, exc)
    path = (parts.path or "/") + ("?" + parts.query if parts.query else "")
    host_header = url_host(host) + (":%d" % parts.port if parts.port else "")
    if is_ip_address(host):
        addresses = [host]
    else:
        resolved = await lookup_one_host(transport, host)
        addresses = resolved.addresses
        if not addresses:
            return None, "%s has no address (%s)" % (host, resolved.describe())
    failure = None
    for address in addresses:
        try:
            return await call(transport, "https_get", address, port, path, host_header, host, PREFLIGHT_MAX_BYTES,
                              extra_headers=headers, method="OPTIONS"), None
        except TransportError as exc:
            failure = exc
            if exc.kind not in _TRY_NEXT_ADDRESS:
                break
    return None, "%s: %s" % (failure.kind, failure.message)


async def preflight(transport, url):
    """Send url the OPTIONS preflight a browser sends before a GET with X-Requested-With.

    Returns (report, problems): report is {url, origin, status, allow_origin, allow_methods,
    allow_headers, error}; problems holds ``preflight_failed`` (no answer, a redirect or a
    status other than 2xx) or ``preflight_missing_cors`` (an answer a browser refuses: no or
    several Access-Control-Allow-Origin values, or X-Requested-With not allowed), both
    warnings, and ``incomplete_cors`` when the answer lacks the specification's values.
    """
    request_headers = {
        "Origin": PREFLIGHT_ORIGIN,
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": PREFLIGHT_REQUEST_HEADER.lower(),
    }
    report = {"url": url, "origin": PREFLIGHT_ORIGIN, "status": None, "allow_origin": None,
              "allow_methods": None, "allow_headers": None, "error": None}
    consequence = ("web clients that add a header such as %s or Authorization cannot read the client document"
                   % PREFLIGHT_REQUEST_HEADER)
    response, failure = await _options(transport, url, request_headers)
    if response is None:
        report["error"] = failure
        return report, [problem("preflight_failed", "the OPTIONS preflight to %s got no answer (%s): %s"
                                % (url, failure, consequence))]
    headers = response.headers
    report.update({
        "status": response.status,
        "allow_origin": headers.get("Access-Control-Allow-Origin"),
        "allow_methods": headers.get("Access-Control-Allow-Methods"),
        "allow_headers": headers.get("Access-Control-Allow-Headers"),
    })
    if not 200 <= response.status < 300:
        why = ("browsers do not follow a redirect of a preflight" if 300 <= response.status < 400
               else "browsers need a 2xx status, 204 or 200")
        return report, [problem("preflight_failed", "%s answers the OPTIONS preflight with HTTP %d (%s): %s; answer "
                                "OPTIONS with 204 and the CORS headers" % (url, response.status, why, consequence))]
    refusals = []
    duplicate = _duplicate_origin(headers)
    if duplicate:
        refusals.append("Access-Control-Allow-Origin holds several values (%s)" % ", ".join(duplicate))
    elif report["allow_origin"] not in ("*", PREFLIGHT_ORIGIN):
        refusals.append("Access-Control-Allow-Origin is %s" % ("missing" if report["allow_origin"] is None
                                                               else repr(report["allow_origin"])))
    if _missing(headers, "Access-Control-Allow-Headers", [PREFLIGHT_REQUEST_HEADER]):
        refusals.append("Access-Control-Allow-Headers does not allow %s" % PREFLIGHT_REQUEST_HEADER)
    if refusals:
        return report, [problem("preflight_missing_cors", "%s answers the OPTIONS preflight with HTTP %d but %s: %s"
                                % (url, response.status, " and ".join(refusals), consequence))]
    return report, _incomplete(url, "the OPTIONS preflight", headers)
