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

import threading
from concurrent.futures import Future


class SharedTransport:
    """Delegates to transport; concurrent or repeated identical calls share one answer.

    Errors are shared too (a TransportError is raised to every caller of that call). Calls
    with extra headers and federation probes are not shared. Nor is a call given a shorter
    ``timeout`` (a name whose time budget is nearly spent, see ``_name_budget``): its answer,
    perhaps cut short by that name's budget, must not become another name's answer. Such a
    call still takes an answer already asked for by another caller.
    """

    def __init__(self, transport):
        self._transport = transport
        self._lock = threading.Lock()
        self._answers = {}

    def __getattr__(self, name):
        # validate_certs, timeout, probe_federation... come from the wrapped transport.
        return getattr(self._transport, name)

    def _once(self, key, call, timeout=None):
        with self._lock:
            future = self._answers.get(key)
            if timeout is not None and future is None:
                # Limited by one name's budget: asked for that name alone (see the class).
                owner = False
            else:
                owner = future is None
                if owner:
                    future = self._answers[key] = Future()
        if future is None:
            return call()
        if owner:
            try:
                future.set_result(call())
            except Exception as exc:  # pylint: disable=broad-except
                # Handed to every caller by future.result() below, unchanged.
                future.set_exception(exc)
        return future.result()

    def query_srv(self, name, timeout=None):
        """The wrapped transport's query_srv, once per name."""
        return self._once(("SRV", name), lambda: self._transport.query_srv(name, **_limit(timeout)), timeout)

    def query_address(self, host, family, timeout=None):
        """The wrapped transport's query_address, once per host and family."""
        return self._once((family, host), lambda: self._transport.query_address(host, family, **_limit(timeout)),
                          timeout)

    def https_get(self, address, port, path, host_header, tls_server_name, max_bytes, extra_headers=None,
                  timeout=None, method="GET"):
        """The wrapped transport's https_get, once per identical request."""
        def call():
            return self._transport.https_get(address, port, path, host_header, tls_server_name, max_bytes,
                                             extra_headers, **_limit(timeout),
                                             **({} if method == "GET" else {"method": method}))
        if extra_headers:
            return call()
        return self._once((method, address, port, path, host_header, tls_server_name, max_bytes), call, timeout)

    def probe_federation(self, address, port, tls_server_name, host_header, paths, timeout=None):
        """The wrapped transport's probe_federation (never shared)."""
        return self._transport.probe_federation(address, port, tls_server_name, host_header, paths,
                                                **_limit(timeout))


def _limit(timeout):
    """The ``timeout`` keyword to pass on: only when a shorter deadline was asked for (such a
    call is not shared; see ``_name_budget``)."""
    return {} if timeout is None else {"timeout": timeout}
