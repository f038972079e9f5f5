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
``https_get(address, port, path, host_header, tls_server_name, sni, max_bytes, extra_headers=None, method="GET") -> HttpResponse``
    One HTTPS GET to the IP ``address`` on ``port``, sending ``sni`` as TLS server name
    indication (None: send none, as for IP literals), verifying the certificate for
    ``tls_server_name`` (a hostname or an IP address), sending ``Host: host_header``.
    Redirects are NOT followed (the caller resolves each hop through its own DNS). A body of
    ``max_bytes`` bytes or more, or a ``Content-Length`` above it, is not read further and the
    response has ``too_large=True``. The whole request (connect, TLS handshake, headers and
    body) must be done within the transport's ``timeout`` (see ``_deadline``), or it raises
    ``TransportError("timeout")``. Raises :class:`TransportError` when no HTTP response is
    obtained. ``method`` sends another method the same way (the CORS check sends OPTIONS).

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

:class:`TransportError` kinds: ``timeout``, ``unreachable`` (connection refused, reset,
no route), ``tls_invalid`` (certificate not trusted or not valid for the name, handshake
failure), ``http_error`` (malformed HTTP), ``dns_error``, ``too_large``, ``config``.

``probe_federation(address, port, tls_server_name, host_header, paths) -> dict``
    One TLS connection to a federation target address (SNI and verification for
    ``tls_server_name``, the certificate kept for the report) over which each of ``paths`` is
    requested with ``Host: host_header``; see ``_tls_client.probe_federation_target``. Never
    raises. It belongs to the transport so that fakes can provide it too.
"""

from __future__ import annotations

import ipaddress
import os.path
import ssl
import warnings
from dataclasses import dataclass, field

from ansible_collections.homeserver.delegation.plugins.module_utils._deadline import RequestDeadline
from ansible_collections.homeserver.delegation.plugins.module_utils._dependencies import (
    HAS_REQUESTS,
    dns,
    require,
    requests,
    urllib3,
)
from ansible_collections.homeserver.delegation.plugins.module_utils._srv import SrvRecord

NOERROR = "NOERROR"
NODATA = "NODATA"
NXDOMAIN = "NXDOMAIN"
SERVFAIL = "SERVFAIL"
REFUSED = "REFUSED"
TIMEOUT = "TIMEOUT"
ERROR = "ERROR"

#: rcodes meaning "the name has no such records" (as opposed to "the lookup failed").
NO_RECORDS = frozenset((NODATA, NXDOMAIN))

USER_AGENT = "homeserver.delegation server discovery"


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


class Headers:
    """Case-insensitive, multi-valued HTTP response headers (order kept)."""

    def __init__(self, items=()):
        if hasattr(items, "items"):
            items = items.items()
        self._items = [(str(name), str(value)) for name, value in items]

    def get_all(self, name):
        """Every value of header ``name`` in the order received."""
        wanted = name.lower()
        return [value for key, value in self._items if key.lower() == wanted]

    def get(self, name, default=None):
        """The last value of header ``name``, or ``default``."""
        values = self.get_all(name)
        return values[-1] if values else default

    def items(self):
        """All ``(name, value)`` pairs in the order received."""
        return list(self._items)

    def to_dict(self):
        """Header names (lower-cased) mapped to their values joined with ", "."""
        merged = {}
        for key, value in self._items:
            key = key.lower()
            merged[key] = merged[key] + ", " + value if key in merged else value
        return merged

    def __contains__(self, name):
        return bool(self.get_all(name))

    def __repr__(self):
        return "Headers(%r)" % (self._items,)


@dataclass
class HttpResponse:
    """An HTTP response as received (redirects are not followed)."""

    url: str
    status: int
    headers: Headers
    body: bytes
    too_large: bool = False
    peer_address: str | None = None


class TransportError(Exception):
    """No HTTP response could be obtained (or the transport could not be set up)."""

    def __init__(self, kind, message):
        self.kind = kind
        self.message = message
        super().__init__("%s: %s" % (kind, message))


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


def lookup_host_addresses(transport, host, run_parallel=None):
    """Query AAAA and A for ``host`` through ``transport`` and return :class:`HostAddresses`.

    ``run_parallel(callables) -> results`` runs the two queries concurrently when given;
    without it they run one after the other (AAAA, then A).
    """
    queries = [lambda: transport.query_address(host, "AAAA"),
               lambda: transport.query_address(host, "A")]
    if run_parallel is None:
        aaaa, a = [query() for query in queries]
    else:
        aaaa, a = run_parallel(queries)
    return HostAddresses(host, aaaa, a)


def url_host(host):
    """``host`` as it appears in a URL or Host header (IPv6 addresses get brackets)."""
    if ":" in host and not host.startswith("["):
        return "[%s]" % host
    return host


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


if HAS_REQUESTS:
    class _WatchedHTTPSConnection(urllib3.connection.HTTPSConnection):
        """An HTTPSConnection whose TCP socket is watched by a request deadline, from before
        the TLS handshake on (urllib3 1.26 and 2.x both create it in ``_new_conn``)."""

        request_deadline = None

        def _new_conn(self):
            sock = super()._new_conn()
            if self.request_deadline is not None:
                self.request_deadline.watch(sock)
            return sock

    # urllib3 names the connection class in its messages ("HTTPSConnection(host=..., port=...):
    # Failed to establish a new connection"), which reach users: keep the name they know.
    _WatchedHTTPSConnection.__name__ = "HTTPSConnection"

    class _WatchedHTTPSConnectionPool(urllib3.HTTPSConnectionPool):
        """Hands its request deadline to every connection it makes."""

        ConnectionCls = _WatchedHTTPSConnection
        request_deadline = None

        def _new_conn(self):
            conn = super()._new_conn()
            conn.request_deadline = self.request_deadline
            return conn

    class _PinnedAddressAdapter(requests.adapters.HTTPAdapter):
        """Sends the request to the IP address in the URL while TLS uses the given names.

        ansible.module_utils.urls cannot connect to an already resolved IP while sending SNI
        and Host for a name, nor stop reading a body at a size cap, so requests is used with
        this adapter: ``server_hostname`` is the SNI (None: none, for IP literals) and
        ``assert_hostname`` the name or IP the certificate must be valid for.
        """

        def __init__(self, server_hostname, assert_hostname, ssl_context, request_deadline=None):
            self._server_hostname = server_hostname
            self._assert_hostname = assert_hostname
            self._ssl_context = ssl_context
            self._request_deadline = request_deadline
            super().__init__(max_retries=0)

        def _new_https_pool(self, host, port, **kwargs):
            pool = _WatchedHTTPSConnectionPool(host, port, **kwargs)
            pool.request_deadline = self._request_deadline
            return pool

        def cert_verify(self, conn, url, verify, cert):
            # Trust comes from the SSL context built once per transport (system CAs or
            # ca_path); requests would load a CA bundle into it again on every connection.
            conn.cert_reqs = "CERT_REQUIRED" if verify else "CERT_NONE"
            conn.ca_certs = None
            conn.ca_cert_dir = None

        def init_poolmanager(self, connections, maxsize, block=False, **pool_kwargs):
            pool_kwargs["server_hostname"] = self._server_hostname
            pool_kwargs["assert_hostname"] = self._assert_hostname
            pool_kwargs["ssl_context"] = self._ssl_context
            super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
            self.poolmanager.pool_classes_by_scheme = dict(self.poolmanager.pool_classes_by_scheme,
                                                           https=self._new_https_pool)


#: Seconds to wait for one DNS answer before the query is sent again (within ``timeout``).
DNS_RETRY_SECONDS = 2.0


class NetworkTransport:
    """The real transport: dnspython for DNS, requests for HTTPS.

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
        # DNS is needed by every check; requests only by https_get (srv_info never calls it).
        require(("dnspython",))
        self.timeout = float(timeout)
        self.validate_certs = validate_certs
        self.allow_internal_redirects = bool(allow_internal_redirects)
        self.ca_path = ca_path
        try:
            self._resolver = dns.resolver.Resolver(configure=not nameservers)
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
        self._ssl_context = self._make_ssl_context()

    def _make_ssl_context(self):
        if not self.validate_certs:
            # The user turned verification off on purpose; do not warn on every request.
            warnings.filterwarnings("ignore", message="Unverified HTTPS request")
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return context
        try:
            if self.ca_path is None:
                context = ssl.create_default_context()
            elif os.path.isdir(self.ca_path):
                context = ssl.create_default_context(capath=self.ca_path)
            else:
                context = ssl.create_default_context(cafile=self.ca_path)
        except (OSError, ssl.SSLError) as exc:
            raise TransportError("config", "cannot load CA certificates from %s: %s"
                                 % (self.ca_path, exc))
        # Python 3.13 adds these two flags to the default context; Synapse verifies with
        # OpenSSL's defaults, without them. Clearing them gives the same verdict on every
        # Python a controller or target runs (3.10 to 3.13), and the one remote servers reach.
        context.verify_flags &= ~(getattr(ssl, "VERIFY_X509_STRICT", 0)
                                  | getattr(ssl, "VERIFY_X509_PARTIAL_CHAIN", 0))
        return context

    # --- DNS -------------------------------------------------------------------------------

    def _resolve(self, name, rdtype, timeout=None):
        """Return (rcode, answer or None, error message or None); never raises.

        ``timeout`` (at most the transport's own) shortens this query's deadline.
        """
        lifetime = self.timeout if timeout is None else max(0.001, min(self.timeout, float(timeout)))
        try:
            answer = self._resolver.resolve(name, rdtype, search=False,
                                            raise_on_no_answer=False, lifetime=lifetime)
        except dns.resolver.NXDOMAIN:
            return NXDOMAIN, None, None
        except dns.resolver.NoNameservers as exc:
            return _rcode_of_failed_servers(exc), None, str(exc)
        except (dns.resolver.LifetimeTimeout, dns.exception.Timeout) as exc:
            return TIMEOUT, None, str(exc)
        except dns.exception.DNSException as exc:
            return ERROR, None, str(exc)
        if answer.rrset is None:
            return NODATA, answer, None
        return NOERROR, answer, None

    def query_srv(self, name, timeout=None):
        """Query the SRV records of ``name``; see the module docstring."""
        rcode, answer, error = self._resolve(name, "SRV", timeout)
        records = []
        if answer is not None and answer.rrset is not None:
            records = [SrvRecord(rdata.priority, rdata.weight, rdata.port,
                                 rdata.target.to_text())
                       for rdata in answer.rrset]
        return SrvAnswer(name, rcode, records, error)

    def query_address(self, host, family, timeout=None):
        """Query the A or AAAA records of ``host``, following CNAMEs."""
        rcode, answer, error = self._resolve(host, family, timeout)
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

    # --- HTTPS -----------------------------------------------------------------------------

    def https_get(self, address, port, path, host_header, tls_server_name, sni,
                  max_bytes, extra_headers=None, timeout=None, method="GET"):
        """One pinned HTTPS request (GET unless ``method`` says otherwise); see the module docstring.

        ``timeout`` (at most the transport's own) shortens this request's deadline.
        """
        require(("requests",))
        timeout = self.timeout if timeout is None else max(0.001, min(self.timeout, float(timeout)))
        url = "https://%s:%d%s" % (url_host(address), port, path)
        display_url = "https://%s%s" % (host_header, path)
        headers = {"Host": host_header, "User-Agent": USER_AGENT, "Accept": "application/json"}
        headers.update(extra_headers or {})
        # One deadline for the whole request: connect, TLS handshake, headers and body. The
        # socket timeout alone bounds each read, which a server sending a byte a second
        # never lets expire.
        deadline = RequestDeadline(timeout)
        adapter = _PinnedAddressAdapter(
            server_hostname=sni,
            assert_hostname=tls_server_name if self.validate_certs else False,
            ssl_context=self._ssl_context,
            request_deadline=deadline,
        )
        session = requests.Session()
        # Proxies and .netrc from the environment would change where we connect to.
        session.trust_env = False
        session.mount("https://", adapter)
        try:
            response = session.request(method, url, headers=headers, allow_redirects=False, stream=True,
                                       timeout=timeout, verify=self.validate_certs)
            try:
                body, too_large = _read_capped(response, max_bytes)
            finally:
                response.close()
            if deadline.expired:
                # The socket was shut down while the body came in: it may be cut short.
                raise _deadline_error(display_url, address, port, timeout)
            return HttpResponse(
                url=display_url,
                status=response.status_code,
                headers=_headers_of(response),
                body=body,
                too_large=too_large,
                peer_address=address,
            )
        except requests.exceptions.RequestException as exc:
            if deadline.expired:
                raise _deadline_error(display_url, address, port, timeout) from exc
            raise _transport_error(exc, display_url, address, port, timeout) from exc
        finally:
            session.close()
            deadline.close()

    # --- federation target probe ----------------------------------------------------------

    def probe_federation(self, address, port, tls_server_name, host_header, paths, timeout=None):
        """One TLS connection to a federation target, GETting each of ``paths``.

        Sends SNI ``tls_server_name`` (none for an IP), verifies chain and name unless
        validate_certs is off, and keeps the peer certificate; after a verification failure
        the handshake is repeated unverified so the certificate and answers can be reported.
        See ``_tls_client.probe_federation_target`` for the returned dict. Never raises.
        """
        from ansible_collections.homeserver.delegation.plugins.module_utils._tls_client import (
            probe_federation_target,
        )
        timeout = self.timeout if timeout is None else max(0.001, min(self.timeout, float(timeout)))
        return probe_federation_target(address, port, tls_server_name, host_header, paths, timeout,
                                       self._ssl_context if self.validate_certs else None)


def _deadline_error(display_url, address, port, timeout):
    return TransportError("timeout", "%s (%s:%d): no complete response within %g s (the "
                                     "deadline of the whole request)" % (display_url, address, port, timeout))


def _transport_error(exc, display_url, address, port, timeout):
    """The TransportError for a requests exception raised before the deadline."""
    if isinstance(exc, requests.exceptions.SSLError):
        return TransportError("tls_invalid", "%s (%s:%d): %s" % (display_url, address, port, _innermost(exc)))
    if isinstance(exc, requests.exceptions.Timeout):
        return TransportError("timeout", "%s (%s:%d): no response within %g s" % (display_url, address, port, timeout))
    if isinstance(exc, requests.exceptions.ConnectionError):
        kind = "timeout" if "timed out" in str(exc).lower() else "unreachable"
        return TransportError(kind, "%s (%s:%d): %s" % (display_url, address, port, _innermost(exc)))
    return TransportError("http_error", "%s (%s:%d): %s" % (display_url, address, port, _innermost(exc)))


def _rcode_of_failed_servers(exc):
    for error in exc.kwargs.get("errors") or ():
        response = error[-1] if isinstance(error, tuple) else None
        if response is not None and hasattr(response, "rcode"):
            if response.rcode() == dns.rcode.REFUSED:
                return REFUSED
    return SERVFAIL


def _innermost(exc):
    """The most specific message inside a requests/urllib3 exception chain."""
    seen = exc
    while True:
        inner = seen.args[0] if seen.args and isinstance(seen.args[0], Exception) else None
        inner = inner or getattr(seen, "reason", None)
        if not isinstance(inner, Exception) or inner is seen:
            break
        seen = inner
    return str(seen) or type(seen).__name__


def _headers_of(response):
    raw = getattr(response.raw, "headers", None)
    if raw is not None and hasattr(raw, "getlist"):
        return Headers([(name, value) for name in raw for value in raw.getlist(name)])
    return Headers(response.headers.items())


def _read_capped(response, max_bytes):
    """Read at most ``max_bytes`` bytes; report whether the body reached the cap."""
    length = response.headers.get("Content-Length")
    if length is not None and length.strip().isdigit() and int(length) > max_bytes:
        return b"", True
    chunks = []
    total = 0
    for chunk in response.iter_content(chunk_size=8192):
        chunks.append(chunk)
        total += len(chunk)
        if total >= max_bytes:
            return b"".join(chunks)[:max_bytes], True
    return b"".join(chunks), False
