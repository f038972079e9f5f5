# Copyright (c) homeserver.delegation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A transport that answers from in-memory data shaped like the reference corpus.

``dns``: ``{"A": {name: [ip]}, "AAAA": {...}, "CNAME": {name: target},
"SRV": {service name: [[priority, weight, port, target]]}, "SRV_error": {name: "SERVFAIL ..."}}``.
An empty SRV list or a missing name is NXDOMAIN. ``responses``: URL -> response spec as in the
corpus' ``wellknown`` field (``status``, ``body``/``body_spec``/``body_hex``, ``headers``,
``fetch_error``); a request with another method than GET is answered from the key
``"<METHOD> <URL>"``. Every call is logged in order (``log``) and HTTPS calls with their arguments
(``http_calls``), so tests can check what was looked up and how.
"""

from __future__ import annotations

import json
import os
import threading

from ansible_collections.homeserver.delegation.plugins.module_utils._transport import (
    AddressAnswer,
    Headers,
    HttpResponse,
    SrvAnswer,
    SrvRecord,
    TransportError,
    is_ip_address,
)

CORPUS_PATH = os.path.join(os.path.dirname(__file__), "data", "resolution-cases.json")

IMPLIED_ADDRESS = "42.0.0.254"

_FETCH_ERROR_KINDS = {
    "connection_failed": "unreachable",
    "tls_verification_failed": "tls_invalid",
    "timeout": "timeout",
}


def _sni(tls_server_name):
    """The SNI the real client sends for ``tls_server_name``: none for an IP address."""
    return None if is_ip_address(tls_server_name) else tls_server_name


def load_corpus():
    """The reference cases (a verbatim copy of the shared resolution-cases.json)."""
    with open(CORPUS_PATH, encoding="utf-8") as corpus:
        return json.load(corpus)


def body_of(spec):
    """The response body bytes a corpus response spec describes."""
    if spec.get("body_hex") is not None:
        return bytes.fromhex(spec["body_hex"])
    body_spec = spec.get("body_spec")
    if body_spec is not None:
        if "repeat" in body_spec:
            text = body_spec["prefix"] + body_spec["repeat"] * body_spec["count"] + body_spec["suffix"]
        else:
            text = body_spec["prefix"]
            text += body_spec["pad_with"] * (body_spec["total_len"] - len(text))
        body = text.encode("utf-8")
        assert len(body) == body_spec["total_len"]
        return body
    return (spec.get("body") or "").encode("utf-8")


def responses_for_case(case):
    """URL -> response spec for the corpus case's ``wellknown`` field (with redirect targets)."""
    well_known = case.get("wellknown")
    if not well_known or not case.get("server_name"):
        return {}
    hostname = case["server_name"].rsplit(":", 1)[0] if not case["server_name"].startswith("[") \
        else case["server_name"]
    responses = {"https://%s/.well-known/matrix/server" % hostname.lower(): well_known}
    then = well_known.get("then")
    if then:
        responses[then["url"]] = then
    delegated = well_known.get("delegated_wellknown")
    if delegated:
        responses[delegated["url"]] = delegated
    return responses


class FakeTransport:
    """In-memory DNS and HTTPS; see the module docstring."""

    def __init__(self, dns=None, responses=None):
        self.dns = dns or {}
        self.responses = responses or {}
        self.log = []
        self.http_calls = []
        self._lock = threading.Lock()

    @classmethod
    def for_case(cls, case):
        """A transport serving the ``dns`` and ``wellknown`` of a corpus case.

        The corpus leaves the hostname's own address implied when the well-known answered with
        an HTTP status; such a hostname gets the address ``IMPLIED_ADDRESS``.
        """
        dns = json.loads(json.dumps(case.get("dns") or {}))
        responses = responses_for_case(case)
        well_known = case.get("wellknown") or {}
        if responses and well_known.get("status") is not None:
            hostname = case["server_name"].lower()
            if not any(hostname in dns.get(family, {}) for family in ("A", "AAAA", "CNAME")):
                dns.setdefault("A", {})[hostname] = [IMPLIED_ADDRESS]
        return cls(dns, responses)

    def _record(self, entry):
        with self._lock:
            self.log.append(entry)

    def _exists(self, name):
        return any(name in self.dns.get(kind, {}) for kind in ("A", "AAAA", "CNAME", "SRV"))

    def query_srv(self, name):
        self._record("SRV %s" % name)
        error = self.dns.get("SRV_error", {}).get(name)
        if error:
            return SrvAnswer(name, error.split()[0], [], error)
        records = self.dns.get("SRV", {}).get(name)
        if not isinstance(records, list) or not records:
            return SrvAnswer(name, "NXDOMAIN", [], None)
        return SrvAnswer(name, "NOERROR", [SrvRecord(*record) for record in records], None)

    def query_address(self, host, family):
        self._record("%s %s" % (family, host))
        error = self.dns.get("%s_error" % family, {}).get(host)
        if error:
            return AddressAnswer(host, family, error.split()[0], [], [], error)
        name, chain = host, []
        while name in self.dns.get("CNAME", {}):
            name = self.dns["CNAME"][name]
            chain.append(name)
        addresses = list(self.dns.get(family, {}).get(name, []))
        if addresses:
            rcode = "NOERROR"
        else:
            rcode = "NODATA" if self._exists(name) else "NXDOMAIN"
        return AddressAnswer(host, family, rcode, addresses, chain, None)

    def https_get(self, address, port, path, host_header, tls_server_name, max_bytes,
                  extra_headers=None, method="GET"):
        url = "https://%s%s" % (host_header, path)
        self._record("%s %s" % (method, url))
        with self._lock:
            self.http_calls.append({"url": url, "address": address, "port": port,
                                    "host_header": host_header, "sni": _sni(tls_server_name), "method": method,
                                    "extra_headers": dict(extra_headers or {}),
                                    "tls_server_name": tls_server_name, "max_bytes": max_bytes})
        spec = self.responses.get(url if method == "GET" else "%s %s" % (method, url))
        if spec is None:
            raise TransportError("unreachable", "%s: connection refused" % url)
        if spec.get("fetch_error"):
            kind = spec["fetch_error"].split()[0]
            raise TransportError(_FETCH_ERROR_KINDS.get(kind, kind), spec["fetch_error"])
        headers = Headers(spec.get("headers") or {})
        body = body_of(spec)
        length = headers.get("Content-Length")
        too_large = len(body) >= max_bytes or (length is not None and int(length) > max_bytes)
        return HttpResponse(url=url, status=spec["status"], headers=headers,
                            body=b"" if too_large else body, too_large=too_large,
                            peer_address=address)


class FirstChoiceRng:
    """A deterministic stand-in for random.Random: randint picks the lowest value and shuffle
    keeps the order, so SRV records of equal priority keep the order DNS gave."""

    def __init__(self, value=None):
        self.value = value

    def randint(self, low, high):
        return low if self.value is None else min(max(self.value, low), high)

    def shuffle(self, items):
        return None
