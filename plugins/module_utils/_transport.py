# Copyright (c) homeserver.delegation contributors
# Simplified BSD License (see https://opensource.org/licenses/BSD-2-Clause)
# SPDX-License-Identifier: BSD-2-Clause

"""Network transport for Matrix server discovery: DNS queries and pinned HTTPS requests.

This module is internal to the homeserver.delegation collection and may change at any time.

The discovery engine never touches the network itself; it calls a *transport*, an object with
these methods (duck-typed, so unit tests inject a fake one):

``query_srv(name) -> SrvAnswer``
    SRV records of ``name`` (for example ``_matrix-fed._tcp.example.com``). Never raises.
``query_address(host, family) -> AddressAnswer``
    ``family`` is ``"A"`` or ``"AAAA"``; CNAMEs are followed and reported. Never raises.
``https_get(address, port, path, host_header, tls_server_name, max_bytes, extra_headers=None, method="GET") -> HttpResponse``
    One HTTPS request to the IP ``address`` on ``port``, with SNI and certificate verification
    for ``tls_server_name`` (a hostname; an IP address is verified as such and sends no SNI),
    sending ``Host: host_header``. Redirects are NOT followed (the caller resolves each hop
    through its own DNS). A body of ``max_bytes`` bytes or more, or a ``Content-Length``
    above it, is not read further and the response has ``too_large=True``. The whole request
    (connect, TLS handshake, headers and body) must be done within the transport's
    ``timeout`` (see ``_deadline``), or it raises ``TransportError("timeout")``. Raises
    :class:`TransportError` when no HTTP response is obtained. ``method`` sends another
    method the same way (the CORS check sends OPTIONS).

DNS result codes (``rcode`` of the answers):

========== =========================================================================
NOERROR    records were returned
NODATA     the name exists but has no record of that type
NXDOMAIN   the name does not exist
SERVFAIL   the name servers failed (SERVFAIL, or no name server gave an answer)
REFUSED    the name servers refused the query
TIMEOUT    no answer within the timeout
ERROR      any other failure (malformed name, bad response...); see ``error``
========== =========================================================================

:class:`TransportError` kinds are those of ``_https_client`` (timeout, unreachable,
tls_invalid, tls_handshake, http_error, config), the one HTTPS client behind ``https_get`` and
``probe_federation``.

``probe_federation(address, port, tls_server_name, host_header, paths) -> dict``
    One TLS connection to a federation target address (SNI and verification for
    ``tls_server_name``, the certificate kept for the report) over which each of ``paths`` is
    requested with ``Host: host_header``; see ``_https_client.probe``. Never raises. It
    belongs to the transport so that fakes can provide it too.

A transport may also have each method as a coroutine, named ``a`` + the method
(``aquery_srv``...), which the engine awaits on its loop (``_loop.call``); the network
transport has both, the plain method running the coroutine on a loop of its own. Test doubles
have the plain methods only.

:func:`lookup_host_addresses` is the one A/AAAA lookup of hosts, for every caller.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from ansible_collections.homeserver.delegation.plugins.module_utils._dependencies import dns, require
from ansible_collections.homeserver.delegation.plugins.module_utils._https_client import (
    Headers,
    HttpResponse,
    TransportError,
    ahttps_request,
    aprobe,
    url_host,
    verifying_context,
)
from ansible_collections.homeserver.delegation.plugins.module_utils._loop import (
    TRANSPORT_METHODS,
    DnsBackend,
    call,
    gather,
    with_plain_methods,
)
from ansible_collections.homeserver.delegation.plugins.module_utils._srv import SrvRecord

#: The HTTP types of ``_https_client`` are re-exported: the transport's callers use them with it.
__all__ = ["NOERROR", "NODATA", "NXDOMAIN", "SERVFAIL", "REFUSED", "TIMEOUT", "ERROR", "NO_RECORDS", "SrvAnswer",
           "AddressAnswer", "HostAddresses", "lookup_host_addresses", "lookup_one_host", "INTERNAL_NETWORKS",
           "is_internal_address", "is_ip_address", "NetworkTransport", "PROBE_MAX_BYTES", "DNS_RETRY_SECONDS",
           "Headers", "HttpResponse", "TransportError", "url_host", "SrvRecord"]

NOERROR = "NOERROR"
NODATA = "NODATA"
NXDOMAIN = "NXDOMAIN"
SERVFAIL = "SERVFAIL"
REFUSED = "REFUSED"
TIMEOUT = "TIMEOUT"
ERROR = "ERROR"

#: rcodes meaning "the name has no such records" (as opposed to "the lookup failed").
NO_RECORDS = frozenset((NODATA, NXDOMAIN))


@dataclass
class SrvAnswer:
    """The answer to one SRV query."""

    name: str
    rcode: str
    records: list = field(default_factory=list)
    error: str | None = None


@dataclass
class AddressAnswer:
    """The answer to one A or AAAA query; ``cname_chain`` lists the CNAME targets followed."""

    name: str
    family: str
    rcode: str
    addresses: list = field(default_factory=list)
    cname_chain: list = field(default_factory=list)
    error: str | None = None


@dataclass
class HostAddresses:
    """The AAAA and A answers for one host; ``addresses`` lists IPv6 first, then IPv4."""

    host: str
    aaaa: AddressAnswer
    a: AddressAnswer

    @property
    def addresses(self):
        """Every address, AAAA answers first (like getaddrinfo's default preference)."""
        return list(self.aaaa.addresses) + list(self.a.addresses)

    @property
    def cname_chain(self):
        """The CNAME targets followed to reach the addresses (empty: no CNAME)."""
        return list(self.aaaa.cname_chain or self.a.cname_chain)

    def describe(self):
        """A short readable summary, e.g. ``AAAA 2a01:4f8::1; A none (NXDOMAIN)``."""
        parts = []
        for answer in (self.aaaa, self.a):
            if answer.addresses:
                parts.append("%s %s" % (answer.family, ", ".join(answer.addresses)))
            else:
                parts.append("%s none (%s)" % (answer.family, answer.rcode))
        text = "; ".join(parts)
        if self.cname_chain:
            text += " via CNAME %s" % " -> ".join([self.host] + self.cname_chain)
        return text


async def lookup_host_addresses(transport, hosts, parallel=True):
    """The AAAA and A answers of each of ``hosts``, as :class:`HostAddresses` in that order.

    The one host-address lookup of the collection, a coroutine of the engine's loop: every
    query at once, or one after the other (AAAA, then A, host by host) when not ``parallel``.
    """
    calls = [call(transport, "query_address", host, family) for host in hosts for family in ("AAAA", "A")]
    if parallel:
        answers = await gather(*calls)
    else:
        answers = [await query for query in calls]
    return [HostAddresses(host, answers[2 * index], answers[2 * index + 1]) for index, host in enumerate(hosts)]


async def lookup_one_host(transport, host, parallel=True):
    """:func:`lookup_host_addresses` of one host."""
    return (await lookup_host_addresses(transport, [host], parallel))[0]


#: Addresses a well-known redirect may not lead to from a name that resolves to public
#: addresses (see :func:`is_internal_address`). An explicit list: everything else, the
#: documentation ranges included, counts as public for this rule.
INTERNAL_NETWORKS = tuple(ipaddress.ip_network(network) for network in (
    "0.0.0.0/8",        # "this network"; 0.0.0.0 reaches the local host
    "10.0.0.0/8",       # RFC 1918
    "100.64.0.0/10",    # CGNAT shared address space (RFC 6598)
    "127.0.0.0/8",      # loopback
    "169.254.0.0/16",   # link-local
    "172.16.0.0/12",    # RFC 1918
    "192.168.0.0/16",   # RFC 1918
    "::/128",           # unspecified
    "::1/128",          # loopback
    "fc00::/7",         # unique local
    "fe80::/10",        # link-local
))


def is_internal_address(text):
    """Whether the IP address ``text`` is loopback, link-local, private (RFC 1918, CGNAT,
    unique local) or unspecified, also when written as an IPv4-mapped IPv6 address.

    Not an IP address: False.
    """
    try:
        address = ipaddress.ip_address(text.strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address.version == network.version and address in network for network in INTERNAL_NETWORKS)


def is_ip_address(text):
    """Whether ``text`` (without brackets) is an IPv4 or IPv6 address."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


#: The body cap of the federation probe's responses: /version and /key/v2/server answer a few
#: KiB; anything near this is not Matrix.
PROBE_MAX_BYTES = 256 * 1024

#: Seconds to wait for one DNS answer before the query is sent again (within ``timeout``).
DNS_RETRY_SECONDS = 2.0

#: dnspython's asynchronous resolver runs on the engine's loop (``_loop``), not on asyncio.
_DNS_BACKEND = DnsBackend() if dns is not None else None


@with_plain_methods(*TRANSPORT_METHODS)
class NetworkTransport:
    """The real transport: dnspython for DNS, ``_https_client`` for HTTPS.

    ``nameservers``: IP addresses to query (default: the system resolver configuration);
    ``dns_port``: their port; ``timeout``: the deadline in seconds of each DNS query (retries
    included) and of each HTTPS request (connect, TLS handshake, headers and body together);
    ``ca_path``: a CA bundle file or directory to trust instead of the system CAs;
    ``validate_certs``: verify TLS certificates (on by default); ``allow_internal_redirects``:
    let well-known redirects lead from a public name to internal addresses (read by the
    well-known fetch, see ``_wellknown``).
    """

    def __init__(self, nameservers=None, dns_port=53, timeout=10.0, ca_path=None,
                 validate_certs=True, allow_internal_redirects=False):
        require(("dnspython",))
        self.timeout = float(timeout)
        self.validate_certs = validate_certs
        self.allow_internal_redirects = bool(allow_internal_redirects)
        self.ca_path = ca_path
        try:
            self._resolver = dns.asyncresolver.Resolver(configure=not nameservers)
        except dns.exception.DNSException as exc:
            raise TransportError("config", "cannot read the system resolver configuration "
                                           "(%s); give nameservers explicitly" % exc)
        if nameservers:
            self._resolver.nameservers = list(nameservers)
        self._resolver.port = int(dns_port)
        # lifetime is dnspython's overall deadline of one query (every retry, UDP and TCP).
        self._resolver.lifetime = self.timeout
        # Retry a UDP query that got no answer within 2 s (a lost packet) until the lifetime
        # runs out, as the system resolver does, instead of failing the name on one loss.
        self._resolver.timeout = min(self.timeout, DNS_RETRY_SECONDS)
        # Built once: loading the CAs costs milliseconds of CPU (None: verification off).
        self._verify_context = verifying_context(ca_path) if validate_certs else None

    def _timeout(self, timeout):
        """The deadline of one call: ``timeout`` when given and shorter than the transport's."""
        return self.timeout if timeout is None else max(0.001, min(self.timeout, float(timeout)))

    # --- DNS -------------------------------------------------------------------------------

    async def _resolve(self, name, rdtype, timeout=None):
        """Return (rcode, answer or None, error message or None); never raises.

        ``timeout`` (at most the transport's own) shortens this query's deadline.
        """
        lifetime = self._timeout(timeout)
        try:
            answer = await self._resolver.resolve(name, rdtype, search=False, raise_on_no_answer=False,
                                                  lifetime=lifetime, backend=_DNS_BACKEND)
        except dns.resolver.NXDOMAIN:
            return NXDOMAIN, None, None
        except dns.resolver.NoNameservers as exc:
            return _rcode_of_failed_servers(exc), None, str(exc)
        except dns.exception.Timeout as exc:  # dnspython 2.2+ raises its subclass LifetimeTimeout
            return TIMEOUT, None, str(exc)
        except dns.exception.DNSException as exc:
            return ERROR, None, str(exc)
        if answer.rrset is None:
            return NODATA, answer, None
        return NOERROR, answer, None

    async def aquery_srv(self, name, timeout=None):
        """Query the SRV records of ``name``; see the module docstring."""
        rcode, answer, error = await self._resolve(name, "SRV", timeout)
        records = []
        if answer is not None and answer.rrset is not None:
            records = [SrvRecord(rdata.priority, rdata.weight, rdata.port,
                                 rdata.target.to_text())
                       for rdata in answer.rrset]
        return SrvAnswer(name, rcode, records, error)

    async def aquery_address(self, host, family, timeout=None):
        """Query the A or AAAA records of ``host``, following CNAMEs."""
        rcode, answer, error = await self._resolve(host, family, timeout)
        addresses = []
        cname_chain = []
        if answer is not None:
            if answer.rrset is not None:
                addresses = [rdata.address for rdata in answer.rrset]
            try:
                chaining = answer.response.resolve_chaining()
            except dns.exception.DNSException:
                chaining = None
            if chaining is not None:
                cname_chain = [rdata.target.to_text().rstrip(".") or "."
                               for rrset in chaining.cnames for rdata in rrset]
        return AddressAnswer(host, family, rcode, addresses, cname_chain, error)

    # --- HTTPS (both through _https_client) ------------------------------------------------

    async def ahttps_get(self, address, port, path, host_header, tls_server_name, max_bytes, extra_headers=None,
                         timeout=None, method="GET"):
        """One pinned HTTPS request (GET unless ``method`` says otherwise); see the module docstring.

        ``timeout`` (at most the transport's own) shortens this request's deadline.
        """
        return await ahttps_request(address, port, tls_server_name, host_header, method, path, max_bytes,
                                    self._timeout(timeout), self._verify_context, extra_headers)

    async def aprobe_federation(self, address, port, tls_server_name, host_header, paths, timeout=None):
        """One TLS connection to a federation target, GETting each of ``paths``.

        Sends SNI ``tls_server_name`` (none for an IP), verifies chain and name unless
        validate_certs is off, and keeps the peer certificate; after a verification failure
        the handshake is repeated unverified so the certificate and answers can be reported.
        See ``_https_client.probe`` for the returned dict. Never raises.
        """
        return await aprobe(address, port, tls_server_name, host_header, paths, PROBE_MAX_BYTES,
                            self._timeout(timeout), self._verify_context)


def _rcode_of_failed_servers(exc):
    for error in exc.kwargs.get("errors") or ():
        response = error[-1] if isinstance(error, tuple) else None
        if response is not None and hasattr(response, "rcode"):
            if response.rcode() == dns.rcode.REFUSED:
                return REFUSED
    return SERVFAIL
