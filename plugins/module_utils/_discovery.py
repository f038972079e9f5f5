# Copyright (c) homeserver.delegation contributors
# Simplified BSD License (see https://opensource.org/licenses/BSD-2-Clause)
# SPDX-License-Identifier: BSD-2-Clause

"""Matrix server discovery: resolve a server name as the Server-Server API says.

This module is internal to the homeserver.delegation collection and may change at any time.

:class:`ServerDiscovery` implements "Resolving server names" (steps 1-6 with 3.1-3.5) over an
injected transport (see ``_transport``). :meth:`ServerDiscovery.resolve` returns a dict::

    server_name       the name as given
    method            ip_literal | explicit_port | well_known_ip_literal |
                      well_known_explicit_port | well_known_srv | well_known_srv_legacy |
                      well_known_default_port | srv | srv_legacy | default_port
    delegated_server  the m.server used, or None
    well_known        the parsed well-known document used, or None
    well_known_error  "<error_code>: <message>" when a well-known was fetched but not used
    cache_seconds     how long the well-known result may be cached (None: not fetched)
    host_header       the Host header to send
    tls_server_name   the name or IP the certificate must be valid for
    sni               the SNI to send (None for IP literals)
    targets           [{host, port, address}] in connection-preference order
    problems          [{code, severity, message}]
    steps             readable trace of what was looked up and decided

Decisions where the spec is silent (see the reference corpus' ``divergence`` notes):

- SRV lookups that fail (SERVFAIL, REFUSED, timeout) stop the resolution with an error, as in
  Synapse: falling back to port 8448 would hide a broken zone and give a different answer
  than the servers that federate with it.
- A lone SRV target ``.`` means the service is decidedly unavailable (RFC 2782): an error.
- An SRV target that is a CNAME is still resolved (as Synapse does) but reported as an
  error-severity problem, because the spec forbids it and strict resolvers skip it.
- Addresses: AAAA and A are queried in parallel and both kept; IPv6 addresses come first
  (getaddrinfo's default preference), then IPv4; SRV targets in RFC 2782 order.
- Hostnames are looked up lower-cased (like Synapse); the Host header keeps the spelling of
  the server name or m.server.

Problem codes (``severity``: error = breaks or violates the spec, warning = works but is
fragile or deprecated, info = for the record):

=========================== ======== ==========================================================
code                        severity meaning
=========================== ======== ==========================================================
invalid_server_name         error    the server name does not follow the grammar
ip_literal_server_name      warning  an IP literal is used; its certificate needs an IP SAN
server_name_uppercase       warning  upper-case letters (the spec says should not)
server_name_too_long        warning  longer than the recommended 230 characters
well_known_absent           info     no well-known (404, or the hostname has no address)
well_known_invalid          warning  a well-known answered but is unusable (bad status,
                                     JSON, m.server, size, redirects); discovery fell back
well_known_unreachable      warning  no connection for the well-known; discovery fell back
well_known_timeout          warning  the well-known request timed out; discovery fell back
well_known_tls_invalid      warning  the well-known certificate is not valid; fell back
well_known_redirected       info     the well-known was reached through redirects
redirect_to_internal_address
                            warning  a well-known redirect from a public name led to an
                                     internal address; refused, discovery fell back
legacy_only                 warning  only the deprecated _matrix._tcp SRV record exists
target_is_cname             error    an SRV target is a CNAME (forbidden by RFC 2782)
target_unresolvable         error    an SRV target has no address (a warning when a target
                                     at the preferred priority has one)
srv_invalid_target          warning  an SRV record with target "." among other records
srv_lookup_failed           error    an SRV lookup failed (SERVFAIL, REFUSED, timeout)
srv_unavailable             error    the SRV target is "." (service not available)
address_dns_error           warning  an A or AAAA lookup failed (SERVFAIL, timeout...)
no_ipv6                     info     a target has no IPv6 address
no_ipv4                     warning  a target has no IPv4 address (IPv4-only servers
                                     cannot reach it)
no_address                  error    the final host has no address at all
name_timeout                error    the name's time budget (``name_timeout``) ran out; the
                                     message names the query or request it cut short
=========================== ======== ==========================================================

No threads: every name's resolution is a coroutine on the engine's one loop (``_loop``), and
the queries a step needs at once (AAAA and A, the addresses of every SRV target, the
speculative SRV queries) are coroutines beside it. Nothing waits for a free worker, so no
number of names, addresses or targets can exhaust a pool (``_loop`` has none); how many names
resolve at once is :func:`default_concurrency`, bounded by the file descriptors.

Codes, severities and troubleshooting anchors are registered in ``_problems``; the SRV
problems are built by ``_srv``, as ``srv_info`` builds them. SRV targets carry their
``priority``: those above the lowest value are backups (see ``federation_check``).
"""

from __future__ import annotations

import random
import time

from ansible_collections.homeserver.delegation.plugins.module_utils._loop import bounded, call, join, run, spawn

from ansible_collections.homeserver.delegation.plugins.module_utils._name_budget import (
    NameBudget,
    NameBudgetTransport,
)
from ansible_collections.homeserver.delegation.plugins.module_utils import _srv
from ansible_collections.homeserver.delegation.plugins.module_utils._problems import problem
from ansible_collections.homeserver.delegation.plugins.module_utils._server_name import (
    DEFAULT_FEDERATION_PORT,
    ServerNameError,
    parse_server_name,
)
from ansible_collections.homeserver.delegation.plugins.module_utils._transport import (
    NO_RECORDS,
    lookup_host_addresses,
    lookup_one_host,
    url_host,
)
from ansible_collections.homeserver.delegation.plugins.module_utils._wellknown import (
    fetch_server_well_known,
)

#: Names resolved at once by resolve_many() by default: high enough that hundreds of names
#: resolve in one wave (each resolution mostly waits on the network).
DEFAULT_CONCURRENCY = 512
#: Up to this many names at once, SRV records are also queried speculatively (those of the
#: hostname while its well-known is fetched, _matrix._tcp together with _matrix-fed._tcp).
#: That saves round trips while few names wait on the network, but costs CPU (queries whose
#: answer is not needed) when many names compete for it.
SPECULATION_MAX_NAMES = 32
#: File descriptors one resolution may hold open at once: the AAAA and A queries and two
#: speculative SRV queries beside them, or the SRV queries and one HTTPS connection.
_SOCKETS_PER_RESOLUTION = 4
_RECOMMENDED_MAX_LENGTH = 230

SRV_SERVICE = _srv.FEDERATION_SERVICE + "."
SRV_SERVICE_LEGACY = _srv.LEGACY_SERVICE + "."

_WELL_KNOWN_PROBLEM = {
    "no_address": ("well_known_absent", "info"),
    "not_found": ("well_known_absent", "info"),
    "unreachable": ("well_known_unreachable", "warning"),
    "timeout": ("well_known_timeout", "warning"),
    "tls_invalid": ("well_known_tls_invalid", "warning"),
    "redirect_to_internal_address": ("redirect_to_internal_address", "warning"),
}


class DiscoveryError(Exception):
    """Resolution failed: ``server_name``, ``reason`` and the partial ``result`` trace."""

    def __init__(self, server_name, reason, result=None):
        self.server_name = server_name
        self.reason = reason
        self.result = result
        super().__init__(reason)


def default_concurrency(names_count):
    """How many names resolve_many() resolves at once by default for ``names_count`` names.

    At most :data:`DEFAULT_CONCURRENCY`, and few enough that the open sockets stay below the
    process' file-descriptor limit.
    """
    limit = DEFAULT_CONCURRENCY
    try:
        import resource
        soft, dummy = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft != resource.RLIM_INFINITY:
            limit = min(limit, max(1, (soft - 64) // _SOCKETS_PER_RESOLUTION))
    except (ImportError, ValueError, OSError):
        pass
    return max(1, min(limit, names_count))


def order_srv_records(records, rng):
    """Order SRV records as RFC 2782 says (and Synapse does).

    Priority ascending; within a priority a weighted random pick (``rng.randint(1, total)``,
    subtracting weights in record order) until only zero-weight records remain, which are
    shuffled (``rng.shuffle``) and appended.
    """
    by_priority = {}
    for record in records:
        by_priority.setdefault(record.priority, []).append(record)
    ordered = []
    for priority in sorted(by_priority):
        remaining = list(by_priority[priority])
        while remaining:
            total = sum(record.weight for record in remaining)
            if total == 0:
                rng.shuffle(remaining)
                ordered.extend(remaining)
                break
            pick = rng.randint(1, total)
            for record in remaining:
                pick -= record.weight
                if pick <= 0:
                    break
            ordered.append(record)
            remaining.remove(record)
    return ordered


def srv_target_name(target):
    """An SRV target without its trailing dot (the root ``"."`` stays ``"."``)."""
    return target if target == "." else target.rstrip(".")


class _Trace:
    """Collects the steps and problems of one resolution and builds the result dict."""

    def __init__(self, server_name, speculate, transport=None):
        self.server_name = server_name
        self.speculate = speculate
        self.transport = transport
        self.steps = []
        self.problems = []
        self.result = {
            "server_name": server_name,
            "method": None,
            "delegated_server": None,
            "well_known": None,
            "well_known_error": None,
            "cache_seconds": None,
            "host_header": None,
            "tls_server_name": None,
            "sni": None,
            "targets": [],
            "problems": self.problems,
            "steps": self.steps,
        }

    def step(self, text):
        self.steps.append(text)

    def problem(self, code, severity, message):
        self.add(problem(code, message, severity))

    def add(self, item):
        """Record a problem dict built elsewhere (``_srv``)."""
        self.problems.append(item)

    def fail(self, reason, code=None, item=None):
        """The DiscoveryError that stops the resolution, recording the error ``code`` (with
        ``reason`` as message) or the problem dict ``item``."""
        if code is not None:
            self.problem(code, "error", reason)
        if item is not None:
            self.add(item)
        self.step("Failed: %s" % reason)
        return DiscoveryError(self.server_name, reason, self.result)


class ServerDiscovery:
    """Resolve Matrix server names through ``transport``.

    ``parallel=False`` runs every query one after the other in spec order (for traces and
    tests); ``speculative`` also queries SRV records whose answer may not be needed (None:
    only while at most :data:`SPECULATION_MAX_NAMES` names resolve at once); ``rng``
    (``randint``/``shuffle``) orders SRV weights; ``clock`` gives Unix time; ``name_timeout``
    (seconds, None: no budget) bounds everything done for one name (see ``_name_budget``).

    The resolution is a coroutine of the engine's loop (``_loop``): :meth:`aresolve` for
    callers on the loop (federation_check), :meth:`resolve` and :meth:`resolve_many` from
    synchronous code.
    """

    def __init__(self, transport, parallel=True, speculative=None, rng=None, clock=None, name_timeout=None):
        self.transport = transport
        self.name_timeout = name_timeout
        self.parallel = parallel
        self.speculative = speculative
        self.rng = rng if rng is not None else random.Random()
        self.clock = clock if clock is not None else time.time

    def _lookup_hosts(self, hosts, transport):
        """AAAA and A of every host in ``hosts`` (all queries at once when parallel)."""
        return lookup_host_addresses(transport, hosts, self.parallel)

    def _lookup_host(self, host, transport):
        return lookup_one_host(transport, host, self.parallel)

    # --- public API ----------------------------------------------------------------------

    def _speculate(self, names_count):
        if not self.parallel:
            return False
        if self.speculative is not None:
            return self.speculative
        return names_count <= SPECULATION_MAX_NAMES

    def resolve(self, server_name):
        """Resolve one server name; return the result dict or raise :class:`DiscoveryError`."""
        return run(self.aresolve(server_name))

    async def aresolve(self, server_name, transport=None):
        """:meth:`resolve` on the running loop.

        ``transport``: use this one for the name instead of the engine's (federation_check
        passes the name's :class:`NameBudgetTransport`, shared with its other checks).
        """
        return await self._resolve(server_name, self._speculate(1), transport)

    def _name_transport(self):
        if self.name_timeout is None:
            return self.transport
        return NameBudgetTransport(self.transport, NameBudget(self.name_timeout))

    async def _resolve(self, server_name, speculate, transport=None):
        trace = _Trace(server_name, speculate, transport or self._name_transport())
        budget = getattr(trace.transport, "budget", None)
        try:
            return await self._resolve_steps(server_name, trace)
        finally:
            # Whether it succeeded or failed, say when the name's time budget cut it short.
            problem = budget.problem(server_name) if budget is not None else None
            if problem is not None and problem not in trace.problems:
                trace.problems.append(problem)
                trace.step("The time budget of the name (name_timeout) ran out during %s."
                           % budget.ran_out_during)

    async def _resolve_steps(self, server_name, trace):
        try:
            name = parse_server_name(server_name)
        except ServerNameError as exc:
            raise trace.fail(str(exc), "invalid_server_name")
        trace.step("Parsed server name %s: hostname %s, %s, %s."
                   % (_q(server_name), _q(name.host),
                      "port %d" % name.port if name.port is not None else "no port",
                      "an IP literal" if name.is_ip_literal else "not an IP literal"))
        _check_naming(name, "server name", trace)
        if name.is_ip_literal:
            return self._step1_ip_literal(name, trace)
        if name.port is not None:
            return await self._step2_explicit_port(name, trace)
        return await self._step3_well_known(name, trace)

    def resolve_many(self, names, concurrency=None):
        """Resolve several names concurrently on one loop; keep their order.

        Each item of the returned list is the result dict or the :class:`DiscoveryError`.
        ``concurrency`` bounds the names resolved at once (default: :func:`default_concurrency`).
        """
        names = list(names)
        if not names:
            return []
        workers = concurrency or default_concurrency(len(names))
        workers = max(1, min(workers, len(names)))
        speculate = self._speculate(workers)
        if not self.parallel:
            workers = 1
        return run(bounded(workers, [self._resolve_or_error(name, speculate) for name in names]))

    async def _resolve_or_error(self, name, speculate):
        try:
            return await self._resolve(name, speculate)
        except DiscoveryError as exc:
            return exc

    # --- step 1 --------------------------------------------------------------------------

    def _step1_ip_literal(self, name, trace):
        port = name.port_or_default
        trace.problem("ip_literal_server_name", "warning",
                      "%s is an IP literal: the server's certificate must hold an IP "
                      "address SAN for %s, which few CAs issue" % (_q(str(name)), name.bare_host))
        trace.step("Step 1: the hostname is an IP literal, so no well-known and no SRV "
                   "lookup; connect to %s port %d%s."
                   % (name.bare_host, port, "" if name.port else " (default)"))
        return self._finish(trace, "ip_literal",
                            host_header=str(name), tls_server_name=name.bare_host, sni=None,
                            targets=[_target(name.bare_host, port, name.bare_host)],
                            why="the server name is an IP literal")

    # --- step 2 --------------------------------------------------------------------------

    async def _step2_explicit_port(self, name, trace):
        host = name.lookup_name
        trace.step("Step 2: the server name has an explicit port, so no well-known and no "
                   "SRV lookup; resolve %s (CNAME, AAAA, A)." % host)
        resolved = await self._resolve_final_host(host, trace, "Step 2")
        return self._finish(trace, "explicit_port",
                            host_header=str(name), tls_server_name=host, sni=host,
                            targets=[_target(host, name.port, address)
                                     for address in resolved.addresses],
                            why="the server name has an explicit port")

    # --- step 3 --------------------------------------------------------------------------

    async def _step3_well_known(self, name, trace):
        hostname = name.lookup_name
        # Steps 4/5 need the SRV records of the hostname only if the well-known fails. When
        # speculating they are queried while the well-known is fetched; the result is the
        # same, the wall time shorter.
        prefetched_srv = None
        if trace.speculate:
            prefetched_srv = self._start_srv_queries(hostname, trace.transport)
        fetch = await fetch_server_well_known(trace.transport, hostname,
                                              resolve_addresses=lambda host: self._lookup_host(host, trace.transport),
                                              now=self.clock())
        _trace_well_known(fetch, trace)
        if fetch.valid:
            delegated = fetch.delegated_server
            trace.result["delegated_server"] = str(delegated)
            trace.result["well_known"] = fetch.document
            trace.result["cache_seconds"] = fetch.cache_seconds
            if fetch.redirects:
                trace.problem("well_known_redirected", "info",
                              "the well-known of %s was reached through %d redirect(s): %s"
                              % (hostname, len(fetch.redirects), " -> ".join(
                                  [hop["url"] for hop in fetch.redirects] + [fetch.final_url])))
            _check_naming(delegated, "m.server", trace)
            if delegated.is_ip_literal:
                return self._step3_1_delegated_ip_literal(delegated, trace)
            if delegated.port is not None:
                return await self._step3_2_delegated_explicit_port(delegated, trace)
            return await self._step3_3_to_3_5_delegated_srv(delegated, trace)

        code, severity = _WELL_KNOWN_PROBLEM.get(fetch.error_code,
                                                 ("well_known_invalid", "warning"))
        trace.result["well_known_error"] = "%s: %s" % (fetch.error_code, fetch.error)
        trace.result["cache_seconds"] = fetch.cache_seconds
        trace.problem(code, severity, "%s; discovery fell back to SRV records of %s"
                      % (fetch.error, hostname))
        return await self._steps_4_to_6_hostname_srv(name, trace, prefetched_srv)

    def _step3_1_delegated_ip_literal(self, delegated, trace):
        port = delegated.port_or_default
        trace.problem("ip_literal_server_name", "warning",
                      "m.server %s is an IP literal: the certificate must hold an IP address "
                      "SAN for %s" % (_q(str(delegated)), delegated.bare_host))
        trace.step("Step 3.1: m.server is an IP literal; connect to %s port %d%s, no SRV "
                   "lookup." % (delegated.bare_host, port, "" if delegated.port else " (default)"))
        return self._finish(trace, "well_known_ip_literal",
                            host_header=str(delegated), tls_server_name=delegated.bare_host,
                            sni=None,
                            targets=[_target(delegated.bare_host, port, delegated.bare_host)],
                            why="m.server is an IP literal")

    async def _step3_2_delegated_explicit_port(self, delegated, trace):
        host = delegated.lookup_name
        trace.step("Step 3.2: m.server has an explicit port, so no SRV lookup; resolve %s "
                   "(CNAME, AAAA, A)." % host)
        resolved = await self._resolve_final_host(host, trace, "Step 3.2")
        return self._finish(trace, "well_known_explicit_port",
                            host_header=str(delegated), tls_server_name=host, sni=host,
                            targets=[_target(host, delegated.port, address)
                                     for address in resolved.addresses],
                            why="m.server has an explicit port")

    async def _step3_3_to_3_5_delegated_srv(self, delegated, trace):
        host = delegated.lookup_name
        srv_name, records = await self._find_srv(host, trace, ("Step 3.3", "Step 3.4"), None)
        if srv_name is not None:
            targets, why = await self._resolve_srv_targets(records, trace, srv_name)
            method = ("well_known_srv" if srv_name.startswith(SRV_SERVICE)
                      else "well_known_srv_legacy")
            return self._finish(trace, method, host_header=delegated.host,
                                tls_server_name=host, sni=host, targets=targets, why=why)
        trace.step("Step 3.5: no SRV record for %s; resolve it (CNAME, AAAA, A) and use port "
                   "%d." % (host, DEFAULT_FEDERATION_PORT))
        resolved = await self._resolve_final_host(host, trace, "Step 3.5")
        return self._finish(trace, "well_known_default_port", host_header=delegated.host,
                            tls_server_name=host, sni=host,
                            targets=[_target(host, DEFAULT_FEDERATION_PORT, address)
                                     for address in resolved.addresses],
                            why="m.server has no port and no SRV record")

    # --- steps 4, 5, 6 -------------------------------------------------------------------

    async def _steps_4_to_6_hostname_srv(self, name, trace, prefetched_srv):
        host = name.lookup_name
        srv_name, records = await self._find_srv(host, trace, ("Step 4", "Step 5"), prefetched_srv)
        if srv_name is not None:
            targets, why = await self._resolve_srv_targets(records, trace, srv_name)
            method = "srv" if srv_name.startswith(SRV_SERVICE) else "srv_legacy"
            return self._finish(trace, method, host_header=name.host, tls_server_name=host,
                                sni=host, targets=targets, why=why)
        trace.step("Step 6: no SRV record for %s; resolve it (CNAME, AAAA, A) and use port "
                   "%d." % (host, DEFAULT_FEDERATION_PORT))
        resolved = await self._resolve_final_host(host, trace, "Step 6")
        return self._finish(trace, "default_port", host_header=name.host, tls_server_name=host,
                            sni=host,
                            targets=[_target(host, DEFAULT_FEDERATION_PORT, address)
                                     for address in resolved.addresses],
                            why="no usable well-known and no SRV record")

    # --- SRV -----------------------------------------------------------------------------

    def _start_srv_queries(self, host, transport):
        fed_name, legacy_name = SRV_SERVICE + host, SRV_SERVICE_LEGACY + host
        return (spawn(call(transport, "query_srv", fed_name)),
                spawn(call(transport, "query_srv", legacy_name)))

    async def _find_srv(self, host, trace, step_labels, prefetched):
        """Look up ``_matrix-fed._tcp.<host>``, then ``_matrix._tcp.<host>`` if it has no
        records. Return ``(SRV name used, records in RFC 2782 order)`` or ``(None, [])``."""
        if prefetched is None and trace.speculate:
            prefetched = self._start_srv_queries(host, trace.transport)
        for service, label in zip((SRV_SERVICE, SRV_SERVICE_LEGACY), step_labels):
            srv_name = service + host
            if prefetched is not None:
                (answer,) = await join(prefetched[0 if service == SRV_SERVICE else 1])
            else:
                answer = await call(trace.transport, "query_srv", srv_name)
            records = list(answer.records)
            if answer.rcode not in NO_RECORDS and answer.rcode != "NOERROR":
                reason = ("the SRV lookup of %s failed with %s%s; resolution stops here, as "
                          "in Synapse, rather than guess a fallback"
                          % (srv_name, answer.rcode,
                             " (%s)" % answer.error if answer.error else ""))
                raise trace.fail(reason, item=_srv.lookup_failed(srv_name, answer.rcode, answer.error))
            if not records:
                trace.step("%s: SRV %s -> no records (%s)."
                           % (label, srv_name, answer.rcode if answer.rcode != "NOERROR"
                              else "NODATA"))
                continue
            trace.step("%s: SRV %s -> %s." % (label, srv_name, "; ".join(
                "%d %d %d %s" % (record.priority, record.weight, record.port,
                                 srv_target_name(record.target)) for record in records)))
            if len(records) == 1 and srv_target_name(records[0].target) == ".":
                raise trace.fail("the SRV record %s has the target \".\": the service is "
                                 "decidedly not available at this domain (RFC 2782)" % srv_name,
                                 item=_srv.unavailable(srv_name))
            usable = [r for r in records if srv_target_name(r.target) != "."]
            if len(usable) < len(records):
                trace.add(_srv.invalid_target(srv_name))
            if service == SRV_SERVICE_LEGACY:
                trace.add(_srv.legacy_only(host))
            return srv_name, order_srv_records(usable, self.rng)
        return None, []

    async def _resolve_srv_targets(self, records, trace, srv_name):
        """Resolve every SRV target (in parallel); return (targets, why-first text)."""
        hosts = []
        for record in records:
            target = srv_target_name(record.target).lower()
            if target not in hosts:
                hosts.append(target)
        resolved_by_host = {resolved.host: resolved
                            for resolved in await self._lookup_hosts(hosts, trace.transport)}
        preferred = _srv.preferred_priority(records)
        preferred_has_address = any(resolved_by_host[srv_target_name(record.target).lower()].addresses
                                    for record in records if record.priority == preferred)
        targets = []
        for record in records:
            host = srv_target_name(record.target).lower()
            resolved = resolved_by_host[host]
            self._trace_addresses(resolved, trace, "SRV target")
            if resolved.cname_chain:
                trace.add(_srv.target_is_cname(srv_name, host, resolved.cname_chain))
            if not resolved.addresses:
                trace.add(_srv.target_unresolvable(srv_name, host, record.port, resolved,
                                                   preferred_has_address))
            targets.extend(_target(host, record.port, address, record.priority)
                           for address in resolved.addresses)
        if not targets:
            # target_unresolvable (error) names each target.
            raise trace.fail("no SRV target of %s has an address" % srv_name)
        first = records[0]
        why = ("%s: SRV target %s port %d comes first (lowest priority %d, then RFC 2782 "
               "weighted order among %d record(s))"
               % (srv_name, srv_target_name(first.target), first.port,
                  first.priority, len(records)))
        return targets, why

    # --- addresses -----------------------------------------------------------------------

    async def _resolve_final_host(self, host, trace, label):
        resolved = await self._lookup_host(host, trace.transport)
        self._trace_addresses(resolved, trace, label)
        if not resolved.addresses:
            raise trace.fail("%s has no address: %s" % (host, resolved.describe()),
                             "no_address")
        return resolved

    @staticmethod
    def _trace_addresses(resolved, trace, label):
        trace.step("%s: resolved %s: %s." % (label, resolved.host, resolved.describe()))
        for answer in (resolved.aaaa, resolved.a):
            if answer.rcode not in NO_RECORDS and answer.rcode != "NOERROR":
                trace.problem("address_dns_error", "warning",
                              "the %s lookup of %s failed with %s%s"
                              % (answer.family, resolved.host, answer.rcode,
                                 " (%s)" % answer.error if answer.error else ""))
        if resolved.addresses:
            if not resolved.aaaa.addresses:
                trace.problem("no_ipv6", "info", "%s has no IPv6 (AAAA) address" % resolved.host)
            if not resolved.a.addresses:
                trace.problem("no_ipv4", "warning",
                              "%s has no IPv4 (A) address; servers without IPv6 cannot reach it"
                              % resolved.host)

    # --- result --------------------------------------------------------------------------

    @staticmethod
    def _finish(trace, method, host_header, tls_server_name, sni, targets, why):
        result = trace.result
        result.update(method=method, host_header=host_header, tls_server_name=tls_server_name,
                      sni=sni, targets=targets)
        first = targets[0]
        family = "IPv6" if ":" in first["address"] else "IPv4"
        trace.step("Connect to %s port %d first (%s address of %s; %s; IPv6 addresses are "
                   "tried before IPv4)%s. Send Host: %s, SNI: %s, and require a certificate "
                   "valid for %s."
                   % (url_host(first["address"]), first["port"], family, first["host"], why,
                      "; %d more candidate(s) follow in order" % (len(targets) - 1)
                      if len(targets) > 1 else "",
                      host_header, sni if sni is not None else "none (IP literal)",
                      tls_server_name))
        return result


def _target(host, port, address, priority=None):
    """One address to connect to; ``priority`` is the SRV record's (None without SRV)."""
    return {"host": host, "port": port, "address": address, "priority": priority}


def _q(text):
    return "'%s'" % text


def _check_naming(name, what, trace):
    text = str(name)
    if not name.is_ip_literal and name.host != name.host.lower():
        trace.problem("server_name_uppercase", "warning",
                      "the %s %s has upper-case letters; the spec says server names should "
                      "not, and they compare case-sensitively" % (what, _q(text)))
    if len(text) > _RECOMMENDED_MAX_LENGTH:
        trace.problem("server_name_too_long", "warning",
                      "the %s is %d characters long; the spec recommends at most %d"
                      % (what, len(text), _RECOMMENDED_MAX_LENGTH))


def _trace_well_known(fetch, trace):
    for attempt in fetch.attempts:
        trace.step("Step 3: GET %s via %s port %d (SNI %s) -> %s."
                   % (attempt["url"], url_host(attempt["address"]), attempt["port"],
                      attempt["sni"] or "none", attempt.get("outcome", "?")))
    for hop in fetch.redirects:
        trace.step("Step 3: %s answered %d, redirecting to %s."
                   % (hop["url"], hop["status"], hop["location"]))
    if fetch.valid:
        trace.step("Step 3: the well-known is valid; m.server is %s (cache for %d s)."
                   % (_q(str(fetch.delegated_server)), fetch.cache_seconds))
    else:
        trace.step("Step 3: the well-known is not usable (%s: %s); continue with step 4."
                   % (fetch.error_code, fetch.error))
