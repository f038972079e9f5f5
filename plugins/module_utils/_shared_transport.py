# Copyright (c) 2026, homeserver.delegation developers
# Simplified BSD License (see https://opensource.org/licenses/BSD-2-Clause)
# SPDX-License-Identifier: BSD-2-Clause

"""A transport wrapper that makes identical DNS queries and HTTPS GETs only once.

federation_check runs discovery, the well-known report and the SRV report for a name at the
same time; they ask the same questions (the name's addresses, its SRV records, the well-known
from the same address). Sharing the answers halves the queries sent to the servers being
checked, keeps the reports consistent with each other (one answer per question per run), and
halves the CPU spent, which bounds how many names one run can check at once.

This module is internal to the homeserver.delegation collection and may change at any time.
"""

from __future__ import annotations

from ansible_collections.homeserver.delegation.plugins.module_utils._loop import (
    TRANSPORT_METHODS,
    call,
    join,
    spawn,
    with_plain_methods,
)


@with_plain_methods(*TRANSPORT_METHODS)
class SharedTransport:
    """Delegates to transport; concurrent or repeated identical calls share one answer.

    Errors are shared too (a TransportError is raised to every caller of that call). Calls
    with extra headers and federation probes are not shared. Nor is a call given a shorter
    ``timeout`` (a name whose time budget is nearly spent, see ``_name_budget``): its answer,
    perhaps cut short by that name's budget, must not become another name's answer. Such a
    call still takes an answer already asked for by another caller.

    Its coroutines belong to one loop (``_loop``): the run of the engine that created it.
    """

    def __init__(self, transport):
        self._transport = transport
        self._answers = {}

    def __getattr__(self, name):
        # validate_certs, timeout... come from the wrapped transport.
        return getattr(self._transport, name)

    async def _once(self, key, coroutine, timeout=None):
        task = self._answers.get(key)
        if task is None:
            if timeout is not None:
                # Limited by one name's budget: asked for that name alone (see the class).
                return await coroutine
            task = self._answers[key] = spawn(coroutine)
        else:
            coroutine.close()  # not needed: the answer is shared
        (answer,) = await join(task)
        return answer

    async def aquery_srv(self, name, timeout=None):
        """The wrapped transport's query_srv, once per name."""
        return await self._once(("SRV", name), call(self._transport, "query_srv", name, **_limit(timeout)), timeout)

    async def aquery_address(self, host, family, timeout=None):
        """The wrapped transport's query_address, once per host and family."""
        return await self._once((family, host), call(self._transport, "query_address", host, family,
                                                     **_limit(timeout)), timeout)

    async def ahttps_get(self, address, port, path, host_header, tls_server_name, max_bytes, extra_headers=None,
                         timeout=None, method="GET"):
        """The wrapped transport's https_get, once per identical request."""
        request = call(self._transport, "https_get", address, port, path, host_header, tls_server_name, max_bytes,
                       extra_headers, **_limit(timeout), **({} if method == "GET" else {"method": method}))
        if extra_headers:
            return await request
        return await self._once((method, address, port, path, host_header, tls_server_name, max_bytes), request,
                                timeout)

    async def aprobe_federation(self, address, port, tls_server_name, host_header, paths, timeout=None):
        """The wrapped transport's probe_federation (never shared)."""
        return await call(self._transport, "probe_federation", address, port, tls_server_name, host_header, paths,
                          **_limit(timeout))


def _limit(timeout):
    """The ``timeout`` keyword to pass on: only when a shorter deadline was asked for (such a
    call is not shared; see ``_name_budget``)."""
    return {} if timeout is None else {"timeout": timeout}
