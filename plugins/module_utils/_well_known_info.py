# Copyright (c) 2026, homeserver.delegation developers
# Simplified BSD License (see https://opensource.org/licenses/BSD-2-Clause)
# SPDX-License-Identifier: BSD-2-Clause

"""A report on a server name's /.well-known/matrix/server and /.well-known/matrix/client.

The server document is fetched with the discovery engine's fetch (same redirects, size cap
and validation) once per A/AAAA address of the hostname, so a split brain between addresses
is seen. The client document is fetched the same way, checked for what clients need (CORS on
every response, a base_url), and its base_url is asked for /_matrix/client/versions.

This module is internal to the homeserver.delegation collection and may change at any time.
"""

from __future__ import annotations

import json
import time
from urllib.parse import urlsplit

from ansible_collections.homeserver.delegation.plugins.module_utils._cors import document_cors_problems, preflight
from ansible_collections.homeserver.delegation.plugins.module_utils._loop import gather, run
from ansible_collections.homeserver.delegation.plugins.module_utils._json_document import (
    JsonDocumentError,
    parse_json_body,
)
from ansible_collections.homeserver.delegation.plugins.module_utils._name_budget import (
    NameBudget,
    NameBudgetTransport,
)
from ansible_collections.homeserver.delegation.plugins.module_utils._problems import problem
from ansible_collections.homeserver.delegation.plugins.module_utils._server_name import parse_server_name
from ansible_collections.homeserver.delegation.plugins.module_utils._transport import (
    AddressAnswer,
    HostAddresses,
    lookup_one_host,
    url_host,
)
from ansible_collections.homeserver.delegation.plugins.module_utils._wellknown import (
    MAX_BODY_BYTES,
    MAX_CACHE_SECONDS,
    MIN_CACHE_SECONDS,
    REDIRECT_STATUSES,
    WellKnownFetch,
    cache_period_from_headers,
    fetch_server_well_known,
    follow_redirects,
    get_once,
)

DOCUMENTS = ("server", "client")
CLIENT_PATH = "/.well-known/matrix/client"
VERSIONS_PATH = "/_matrix/client/versions"
# Fetch failures that are about one address rather than the document.
_ADDRESS_ERRORS = ("unreachable", "timeout", "tls_invalid")


def _media_type(content_type):
    return (content_type or "").split(";")[0].strip().lower() or None


def _pinned_resolver(transport, hostname, address):
    """A resolve_addresses() for the engine's fetch that sends hostname to one address."""
    async def resolve(host):
        if host != hostname:
            return await lookup_one_host(transport, host)
        family_aaaa = ":" in address
        return HostAddresses(
            host,
            AddressAnswer(host, "AAAA", "NOERROR", [address] if family_aaaa else []),
            AddressAnswer(host, "A", "NOERROR", [] if family_aaaa else [address]),
        )
    return resolve


def _answer_of(fetch):
    """What one address answered, comparable across addresses."""
    if fetch.status is None:
        return None
    if fetch.error_code is None or fetch.document is not None:
        return ("document", json.dumps(fetch.document, sort_keys=True))
    return ("status", fetch.status, fetch.error_code)


def _describe_answer(fetch):
    if fetch.error_code and fetch.document is None:
        return "%s (%s)" % ("HTTP %s" % fetch.status if fetch.status else fetch.error_code, fetch.error_code)
    return json.dumps(fetch.document, sort_keys=True)


async def _server_document(transport, hostname, expected_server, now):
    resolved = await lookup_one_host(transport, hostname)
    addresses = resolved.addresses
    if addresses:
        fetches = await gather(*[fetch_server_well_known(transport, hostname,
                                                         _pinned_resolver(transport, hostname, address), now)
                                 for address in addresses])
        per_address = list(zip(addresses, fetches))
        # The address a remote server would end up with: the first that answered HTTP.
        primary = next((fetch for _address, fetch in per_address if fetch.status is not None), per_address[0][1])
    else:
        per_address = []
        primary = await fetch_server_well_known(transport, hostname, now=now)

    report = _document_fields(primary)
    report.update({
        "delegated_server": None if primary.delegated_server is None else str(primary.delegated_server),
        "valid": primary.valid,
        "addresses": [],
    })
    problems = report["problems"]
    if primary.error_code:
        problems.append(problem(primary.error_code, primary.error))
    for address, fetch in per_address:
        report["addresses"].append({
            "address": address,
            "status": fetch.status,
            "content": fetch.document,
            "valid": fetch.valid,
            "error_code": fetch.error_code,
            "error": fetch.error,
        })
        if fetch is not primary and fetch.error_code in _ADDRESS_ERRORS:
            problems.append(problem(fetch.error_code, "from address %s: %s" % (address, fetch.error)))

    answered = [(address, fetch) for address, fetch in per_address if fetch.status is not None]
    if len(set(_answer_of(fetch) for _address, fetch in answered)) > 1:
        detail = "; ".join("%s answers %s" % (address, _describe_answer(fetch)) for address, fetch in answered)
        # Only a different delegation (or validity) changes where remote servers connect.
        outcomes = set((fetch.valid, str(fetch.delegated_server)) for _address, fetch in answered)
        problems.append(problem(
            "inconsistent",
            "the addresses of %s serve different server documents (%s): remote servers get one or the other "
            "depending on the address they connect to" % (hostname, detail),
            "error" if len(outcomes) > 1 else "warning"))

    if primary.status == 200 and not primary.error_code:
        _content_typeproblem(report, problems)
        period = cache_period_from_headers(primary.headers, now)
        report["cache_period_header"] = period
        if period is not None and not MIN_CACHE_SECONDS <= period <= MAX_CACHE_SECONDS:
            problems.append(problem(
                "cache_period",
                "the response asks to be cached for %d s; servers clamp this to %d..%d s (use e.g. "
                "Cache-Control: max-age=14400)" % (period, MIN_CACHE_SECONDS, MAX_CACHE_SECONDS), "warning"))
    if expected_server is not None and report["delegated_server"] != expected_server:
        problems.append(problem(
            "mismatch", "m.server is %s, expected %s" % (json.dumps(report["delegated_server"]), expected_server)))
    return report


def _document_fields(fetch):
    headers = fetch.headers or {}
    return {
        "url": fetch.url,
        "final_url": fetch.final_url,
        "status": fetch.status,
        "redirects": [dict(hop) for hop in fetch.redirects],
        "content_type": fetch.content_type,
        "cors": headers.get("access-control-allow-origin"),
        "cache_seconds": fetch.cache_seconds if fetch.valid else None,
        "cache_period_header": None,
        "size": fetch.size,
        "content": fetch.document,
        "problems": [],
    }


def _content_typeproblem(report, problems):
    if _media_type(report["content_type"]) != "application/json":
        problems.append(problem(
            "wrong_content_type",
            "the document is served as %s, not application/json; some clients and checkers refuse it"
            % (report["content_type"] or "no Content-Type"), "warning"))


async def _get(transport, url):
    """One GET of url (no redirects) through the engine's request step: the transport's DNS,
    each address in turn, SNI and Host for the URL's host, the 50 KiB cap.

    Returns (response, None) or (None, (error_code, message)).
    """
    attempt = WellKnownFetch(hostname=urlsplit(url).hostname or "", url=url)
    response = await get_once(transport, url, lambda host: lookup_one_host(transport, host), attempt)
    if response is None:
        return None, (attempt.error_code, attempt.error)
    return response, None


async def _client_document(transport, hostname, expected_base_url):
    url = "https://%s%s" % (url_host(hostname), CLIENT_PATH)
    report = {
        "url": url, "final_url": None, "status": None, "redirects": [], "content_type": None, "cors": None,
        "cache_seconds": None, "cache_period_header": None, "size": None, "content": None, "valid": False,
        "base_url": None, "versions": None, "preflight": None, "problems": [],
    }
    problems = report["problems"]

    async def check_cors(hop_url, response):
        cors = response.headers.get("Access-Control-Allow-Origin")
        # Browsers need CORS on the document and on every redirect to it (spec v1.20);
        # on an error page it would change nothing.
        if cors is None and (response.status == 200 or response.status in REDIRECT_STATUSES):
            problems.append(problem(
                "missing_cors",
                "%s answers %d without Access-Control-Allow-Origin; web clients (Element Web) cannot read "
                "the client document: add 'Access-Control-Allow-Origin: *'" % (hop_url, response.status)))
        return {"cors": cors}

    fetch = WellKnownFetch(hostname=hostname, url=url)
    response = await follow_redirects(transport, fetch, lambda host: lookup_one_host(transport, host), check_cors)
    report["redirects"] = [dict(hop) for hop in fetch.redirects]
    if response is None:
        problems.append(problem(fetch.error_code, fetch.error))
        return report
    url = fetch.final_url
    cors = response.headers.get("Access-Control-Allow-Origin")
    report.update({"final_url": url, "status": response.status, "content_type": response.headers.get("Content-Type"),
                   "cors": cors, "size": len(response.body)})
    if response.status != 200:
        code = "not_found" if response.status == 404 else "http_error"
        problems.append(problem(code, "%s returned HTTP %d; only a 200 response counts" % (url, response.status)))
        return report
    # CORS as a browser meets it: the document's headers, and the preflight of the URL it asks for.
    problems.extend(document_cors_problems(url, response.headers))
    report["preflight"], preflight_problems = await preflight(transport, report["url"])
    problems.extend(preflight_problems)
    if response.too_large:
        report["size"] = None
        problems.append(problem("too_large", "%s returned %d bytes or more" % (url, MAX_BODY_BYTES)))
        return report
    _content_typeproblem(report, problems)
    try:
        document = parse_json_body(response.body, max_bytes=MAX_BODY_BYTES)
    except JsonDocumentError as exc:
        problems.append(problem("not_json", "%s is not JSON: %s" % (url, exc)))
        return report
    report["content"] = document
    if not isinstance(document, dict):
        problems.append(problem("not_object", "%s holds JSON that is not an object" % url))
        return report
    homeserver = document.get("m.homeserver")
    base_url = homeserver.get("base_url") if isinstance(homeserver, dict) else None
    if not isinstance(base_url, str):
        problems.append(problem("missing_base_url", "%s has no m.homeserver.base_url string" % url))
        return report
    report["base_url"] = base_url
    parts = urlsplit(base_url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        problems.append(problem("invalid_base_url", "m.homeserver.base_url %s is not an http(s) URL" % json.dumps(base_url)))
        return report
    if expected_base_url is not None and base_url.rstrip("/") != expected_base_url.rstrip("/"):
        problems.append(problem("mismatch", "m.homeserver.base_url is %s, expected %s" % (base_url, expected_base_url)))
    report["versions"] = await _client_versions(transport, base_url, problems)
    report["valid"] = not any(problem["severity"] == "error" for problem in problems)
    return report


async def _client_versions(transport, base_url, problems):
    url = base_url.rstrip("/") + VERSIONS_PATH
    result = {"url": url, "status": None, "versions": None}
    if urlsplit(url).scheme != "https":
        problems.append(problem("client_versions_failed", "%s is plain http; clients need https" % url))
        return result
    response, failure = await _get(transport, url)
    if failure:
        problems.append(problem("client_versions_failed", failure[1]))
        return result
    result["status"] = response.status
    document = parse_error = None
    if response.status == 200 and not response.too_large:
        try:
            document = parse_json_body(response.body, max_bytes=MAX_BODY_BYTES)
        except JsonDocumentError as exc:
            parse_error = str(exc)
    versions = document.get("versions") if isinstance(document, dict) else None
    if response.status != 200 or not isinstance(versions, list):
        problems.append(problem(
            "client_versions_failed",
            "%s answered HTTP %d without a versions list%s: base_url does not lead to a homeserver's "
            "client API" % (url, response.status, " (%s)" % parse_error if parse_error else "")))
        return result
    result["versions"] = versions
    return result


def well_known_info(*args, **kwargs):
    """:func:`awell_known_info` from synchronous code (on a loop of its own)."""
    return run(awell_known_info(*args, **kwargs))


async def awell_known_info(transport, server_name, documents=DOCUMENTS, expected_server=None, expected_base_url=None,
                           now=None, name_timeout=None):
    """Fetch and check the well-known documents of server_name.

    ``name_timeout`` (seconds, None: none) bounds everything done for the name; when it runs
    out the problem ``name_timeout`` says during what (see ``_name_budget``).

    Returns {server_name, hostname, server: report | None, client: report | None, problems}.
    Raises ValueError naming the input for an invalid server name or an IP literal
    (ServerNameError, from the grammar, is a ValueError).
    """
    parsed = parse_server_name(server_name)
    if parsed.is_ip_literal:
        raise ValueError("%s is an IP literal: well-known documents are only looked up for DNS names" % server_name)
    hostname = parsed.lookup_name
    if now is None:
        now = time.time()
    result = {"server_name": server_name, "hostname": hostname, "server": None, "client": None, "problems": []}
    budget = None
    if name_timeout is not None:
        budget = NameBudget(name_timeout)
        transport = NameBudgetTransport(transport, budget)
    # Both documents at once.

    async def nothing():
        return None
    result["server"], result["client"] = await gather(
        _server_document(transport, hostname, expected_server, now) if "server" in documents else nothing(),
        _client_document(transport, hostname, expected_base_url) if "client" in documents else nothing())
    for name in DOCUMENTS:
        if result[name] is not None:
            result["problems"].extend(
                dict(problem, message="%s document: %s" % (name, problem["message"])) for problem in result[name]["problems"])
    problem = budget.problem(server_name) if budget is not None else None
    if problem is not None:
        result["problems"].append(problem)
    return result
