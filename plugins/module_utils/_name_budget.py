# Copyright (c) 2026, homeserver.delegation developers
# Simplified BSD License (see https://opensource.org/licenses/BSD-2-Clause)
# SPDX-License-Identifier: BSD-2-Clause

"""One overall time budget for everything done for one server name.

Each request already has its own deadline (``timeout``, see ``_deadline``), but a name may need
many: one per address of the well-known host, one per redirect hop, SRV and address lookups,
one probe per target address. A hostile name with N addresses that each trickle their answer
would otherwise cost N x ``timeout``. :class:`NameBudgetTransport` wraps a transport for one
name: every DNS query, HTTPS request and federation probe gets ``min(timeout, time left of the
name's budget)``, and once the budget is spent nothing new is started (DNS answers ``TIMEOUT``,
requests raise ``TransportError("timeout")``, probes report a ``timeout`` error) at once.
:meth:`NameBudget.problem` then gives the ``name_timeout`` problem naming what was being done
when time ran out.

:data:`NAME_TIMEOUT_FACTOR` x ``timeout`` is the default budget: discovery has up to four
dependent network steps that an honest but slow server may each stretch close to ``timeout``
(the address lookup of the well-known host, the well-known request, the SRV lookups, the
address lookups of the target; federation_check adds the probe of the targets, which runs
while nothing else does). Steps that run in parallel share the same stretch of the budget.

This module is internal to the homeserver.delegation collection and may change at any time.
"""

from __future__ import annotations

import time

from ansible_collections.homeserver.delegation.plugins.module_utils._loop import TRANSPORT_METHODS, call, with_plain_methods
from ansible_collections.homeserver.delegation.plugins.module_utils._problems import problem
from ansible_collections.homeserver.delegation.plugins.module_utils._transport import (
    TIMEOUT,
    AddressAnswer,
    SrvAnswer,
    TransportError,
    url_host,
)

#: The default name budget is this many times the per-request timeout.
NAME_TIMEOUT_FACTOR = 4

#: Problem code reported when a name's budget ran out.
NAME_TIMEOUT = "name_timeout"


def default_name_timeout(timeout):
    """The name budget used when ``name_timeout`` is not given."""
    return NAME_TIMEOUT_FACTOR * float(timeout)


class NameBudget:
    """``seconds`` from now for everything done for one name.

    Used by the coroutines of one loop, in one thread: no lock is needed."""

    def __init__(self, seconds, clock=time.monotonic):
        self.seconds = float(seconds)
        self._clock = clock
        self.expires_at = clock() + self.seconds
        self.ran_out_during = None

    def remaining(self):
        """Seconds left (0 when the budget is spent)."""
        return max(0.0, self.expires_at - self._clock())

    @property
    def expired(self):
        return self.remaining() <= 0

    def note(self, what):
        """Record ``what`` as the work time ran out during (the first one counts)."""
        if self.ran_out_during is None:
            self.ran_out_during = what

    def problem(self, server_name):
        """The ``name_timeout`` problem dict, or None when the budget never ran out."""
        if self.ran_out_during is None:
            return None
        message = ("%s: the time budget of the name (name_timeout, %g s) ran out during %s; what was not done "
                   "by then is reported as timed out" % (server_name, self.seconds, self.ran_out_during))
        return problem(NAME_TIMEOUT, message)


@with_plain_methods(*TRANSPORT_METHODS)
class NameBudgetTransport:
    """Wraps ``transport`` so that every call made for one name fits in ``budget``.

    A call gets ``timeout=`` (the time left) only when that is less than the wrapped
    transport's own ``timeout``; other attributes come from the wrapped transport.
    """

    def __init__(self, transport, budget):
        self._transport = transport
        self.budget = budget

    def __getattr__(self, name):
        return getattr(self._transport, name)

    def _limit(self):
        """{} or {"timeout": seconds left}; None when the budget is spent."""
        remaining = self.budget.remaining()
        if remaining <= 0:
            return None
        own = getattr(self._transport, "timeout", None)
        if own is not None and remaining < float(own):
            return {"timeout": remaining}
        return {}

    def _after(self, what, timed_out, limit):
        # A call given the time left (``limit``) that timed out was cut short by the budget,
        # even if its own clock fired a hair before the budget's.
        if timed_out and (limit or self.budget.expired):
            self.budget.note(what)

    async def aquery_srv(self, name):
        what = "the SRV lookup of %s" % name
        limit = self._limit()
        if limit is None:
            self.budget.note(what)
            return SrvAnswer(name, TIMEOUT, [], "not sent: the name's time budget (name_timeout) was spent")
        answer = await call(self._transport, "query_srv", name, **limit)
        self._after(what, answer.rcode == TIMEOUT, limit)
        return answer

    async def aquery_address(self, host, family):
        what = "the %s lookup of %s" % (family, host)
        limit = self._limit()
        if limit is None:
            self.budget.note(what)
            return AddressAnswer(host, family, TIMEOUT, [], [],
                                 "not sent: the name's time budget (name_timeout) was spent")
        answer = await call(self._transport, "query_address", host, family, **limit)
        self._after(what, answer.rcode == TIMEOUT, limit)
        return answer

    async def ahttps_get(self, address, port, path, host_header, tls_server_name, max_bytes, extra_headers=None,
                         method="GET"):
        what = "%s https://%s%s (%s port %d)" % (method, host_header, path, url_host(address), port)
        limit = self._limit()
        if limit is None:
            self.budget.note(what)
            raise TransportError("timeout", "https://%s%s (%s:%d): not requested, the time budget of the name "
                                            "(name_timeout, %g s) was spent"
                                 % (host_header, path, address, port, self.budget.seconds))
        try:
            return await call(self._transport, "https_get", address, port, path, host_header, tls_server_name,
                              max_bytes, extra_headers, **limit, **_method(method))
        except TransportError as exc:
            self._after(what, exc.kind == "timeout", limit)
            raise

    async def aprobe_federation(self, address, port, tls_server_name, host_header, paths):
        what = "the federation probe of %s port %d" % (url_host(address), port)
        limit = self._limit()
        if limit is None:
            self.budget.note(what)
            return {"error": {"kind": "timeout",
                              "message": "not connected: the time budget of the name (name_timeout, %g s) was "
                                         "spent" % self.budget.seconds},
                    "tls": None, "responses": {}}
        result = await call(self._transport, "probe_federation", address, port, tls_server_name, host_header, paths,
                            **limit)
        timed_out = (result.get("error") or {}).get("kind") == "timeout" or any(
            (response or {}).get("error_kind") == "timeout" for response in result.get("responses", {}).values())
        self._after(what, timed_out, limit)
        return result


def _method(method):
    """The ``method`` keyword to pass on: only for a request other than GET."""
    return {} if method == "GET" else {"method": method}
