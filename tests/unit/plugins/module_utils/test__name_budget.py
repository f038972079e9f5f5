# Copyright (c) 2026, homeserver.delegation developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""One time budget per server name: several slow addresses cost the budget, not N x timeout."""

from __future__ import annotations

import time

import pytest

from ansible_collections.homeserver.delegation.plugins.module_utils import _loop
from ansible_collections.homeserver.delegation.plugins.module_utils._connection import (
    ConnectionOptionsError,
    name_timeout_from_options,
)
from ansible_collections.homeserver.delegation.plugins.module_utils._discovery import (
    DiscoveryError,
    ServerDiscovery,
)
from ansible_collections.homeserver.delegation.plugins.module_utils._federation import federation_check
from ansible_collections.homeserver.delegation.plugins.module_utils._name_budget import (
    NameBudget,
    NameBudgetTransport,
)
from ansible_collections.homeserver.delegation.plugins.module_utils._transport import TransportError
from ansible_collections.homeserver.delegation.plugins.module_utils._well_known_info import well_known_info
from ansible_collections.homeserver.delegation.tests.unit.fake_federation import NOW, FakeFederationTransport

NAME = "drip.test"
ADDRESSES = ["42.0.0.1", "42.0.0.2", "42.0.0.3"]
DNS = {"A": {NAME: ADDRESSES}}
# Generous: the assertions say "bounded by the budget", not "exactly this fast".
MARGIN = 0.6


class DrippingTransport(FakeFederationTransport):
    """Every HTTPS request and probe uses up its whole deadline and then times out, as a
    server sending one byte per second would (waiting on the engine's loop, so that requests
    overlap as real ones do); DNS answers at once from ``dns``."""

    def __init__(self, timeout, dns=None):
        super().__init__(dns or DNS, {})
        self.timeout = timeout
        self.given_timeouts = []

    async def _drip(self, timeout):
        seconds = self.timeout if timeout is None else timeout
        self.given_timeouts.append(seconds)
        await _loop.sleep(seconds)

    def query_srv(self, name, timeout=None):
        return super().query_srv(name)

    def query_address(self, host, family, timeout=None):
        return super().query_address(host, family)

    async def ahttps_get(self, address, port, path, host_header, tls_server_name, max_bytes, extra_headers=None,
                         method="GET", timeout=None):
        self._record("%s https://%s%s via %s" % (method, host_header, path, address))
        await self._drip(timeout)
        raise TransportError("timeout", "https://%s%s (%s:%d): no complete response within %g s"
                             % (host_header, path, address, port, timeout or self.timeout))

    async def aprobe_federation(self, address, port, tls_server_name, host_header, paths, timeout=None):
        self._record("PROBE %s %d" % (address, port))
        await self._drip(timeout)
        return {"error": {"kind": "timeout", "message": "no complete response"}, "tls": None, "responses": {}}


def _no_sleep(transport):
    """A _drip that records the timeout given and "times out" at once."""
    async def drip(timeout):
        transport.given_timeouts.append(timeout)
    return drip


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def _codes(problems):
    return [problem["code"] for problem in problems]


def _timed(function):
    start = time.monotonic()
    try:
        outcome = function()
    except DiscoveryError as exc:
        outcome = exc
    return outcome, time.monotonic() - start


# --- the wrapper ---------------------------------------------------------------------------


def test_a_call_gets_the_time_left_when_it_is_less_than_the_timeout():
    clock = FakeClock()
    inner = DrippingTransport(timeout=5.0)
    inner._drip = _no_sleep(inner)
    wrapped = NameBudgetTransport(inner, NameBudget(8.0, clock=clock))
    with pytest.raises(TransportError):
        wrapped.https_get("42.0.0.1", 443, "/x", NAME, NAME, 100)
    clock.now += 6.0
    with pytest.raises(TransportError):
        wrapped.https_get("42.0.0.2", 443, "/x", NAME, NAME, 100)
    # First call: 8 s left, more than the timeout, so no override; second: 2 s left.
    assert inner.given_timeouts == [None, pytest.approx(2.0)]


def test_nothing_is_started_once_the_budget_is_spent():
    clock = FakeClock()
    inner = DrippingTransport(timeout=5.0)
    budget = NameBudget(1.0, clock=clock)
    wrapped = NameBudgetTransport(inner, budget)
    clock.now += 1.5
    srv = wrapped.query_srv("_matrix-fed._tcp." + NAME)
    address = wrapped.query_address(NAME, "AAAA")
    with pytest.raises(TransportError) as caught:
        wrapped.https_get("42.0.0.1", 443, "/.well-known/matrix/server", NAME, NAME, 100)
    probe = wrapped.probe_federation("42.0.0.1", 8448, NAME, NAME, ["/v"])
    assert inner.log == []
    assert (srv.rcode, address.rcode, caught.value.kind, probe["error"]["kind"]) == (
        "TIMEOUT", "TIMEOUT", "timeout", "timeout")
    problem = budget.problem(NAME)
    assert problem["code"] == "name_timeout" and problem["severity"] == "error"
    assert "the SRV lookup of _matrix-fed._tcp.drip.test" in problem["message"]


def test_a_budget_that_never_ran_out_reports_nothing():
    wrapped = NameBudgetTransport(DrippingTransport(timeout=5.0), NameBudget(60.0))
    wrapped.query_address(NAME, "A")
    assert wrapped.budget.problem(NAME) is None


# --- options -------------------------------------------------------------------------------


def test_name_timeout_defaults_to_four_times_timeout():
    assert name_timeout_from_options({"timeout": 2.5}) == 10.0
    assert name_timeout_from_options({}) == 40.0
    assert name_timeout_from_options({"timeout": 2.5, "name_timeout": 3}) == 3.0


@pytest.mark.parametrize("value", [0, -1, float("inf"), float("nan"), True, "ten"])
def test_name_timeout_that_is_not_a_positive_number_is_refused(value):
    with pytest.raises(ConnectionOptionsError, match=r"\Aname_timeout: .* is not a positive number of seconds\Z"):
        name_timeout_from_options({"name_timeout": value})


# --- discovery -----------------------------------------------------------------------------


def test_discovery_of_three_dripping_addresses_without_a_budget_costs_three_timeouts():
    # The situation the budget is for: each address times out in turn.
    transport = DrippingTransport(timeout=0.5)
    discovery = ServerDiscovery(transport, speculative=False)
    outcome, elapsed = _timed(lambda: discovery.resolve(NAME))
    assert elapsed >= 1.5
    assert outcome["method"] == "default_port"
    assert "name_timeout" not in _codes(outcome["problems"])


def test_discovery_of_three_dripping_addresses_ends_within_the_name_budget():
    transport = DrippingTransport(timeout=0.5)
    discovery = ServerDiscovery(transport, speculative=False, name_timeout=0.8)
    outcome, elapsed = _timed(lambda: discovery.resolve(NAME))
    assert elapsed < 0.8 + MARGIN
    assert isinstance(outcome, DiscoveryError)
    problems = outcome.result["problems"]
    assert "name_timeout" in _codes(problems)
    message = [problem["message"] for problem in problems if problem["code"] == "name_timeout"][0]
    assert "name_timeout, 0.8 s" in message
    assert "GET https://drip.test/.well-known/matrix/server" in message
    # The third address was never tried, and nothing after it waited.
    assert transport.given_timeouts[0] == 0.5 and transport.given_timeouts[1] < 0.5
    assert len(transport.given_timeouts) == 2


def test_each_name_has_its_own_budget_when_resolved_together():
    names = ["drip-%d.test" % number for number in range(4)]
    dns = {"A": {name: ADDRESSES for name in names}}
    transport = DrippingTransport(timeout=0.5, dns=dns)
    discovery = ServerDiscovery(transport, speculative=False, name_timeout=0.8)
    results, elapsed = _timed(lambda: discovery.resolve_many(names, concurrency=4))
    assert elapsed < 0.8 + MARGIN
    assert all("name_timeout" in _codes(result.result["problems"]) for result in results)
    # Every name got its first request with the full timeout: no global budget.
    assert sorted(transport.given_timeouts).count(0.5) == 4


def test_discovery_within_its_budget_reports_no_name_timeout():
    transport = FakeFederationTransport({"A": {NAME: ADDRESSES}}, {})
    discovery = ServerDiscovery(transport, name_timeout=30)
    result = discovery.resolve(NAME)
    assert result["method"] == "default_port"
    assert "name_timeout" not in _codes(result["problems"])


# --- well_known_info -----------------------------------------------------------------------


def test_well_known_info_with_dripping_addresses_ends_within_the_name_budget():
    transport = DrippingTransport(timeout=1.5)
    result, elapsed = _timed(lambda: well_known_info(transport, NAME, now=NOW.timestamp(), name_timeout=0.5))
    assert elapsed < 0.5 + MARGIN
    assert "name_timeout" in _codes(result["problems"])
    # Every address of the server document is still reported, each as timed out.
    entries = result["server"]["addresses"]
    assert sorted(entry["address"] for entry in entries) == ADDRESSES
    assert all(entry["error_code"] == "timeout" for entry in entries)


# --- federation_check ----------------------------------------------------------------------


def test_federation_check_with_dripping_addresses_ends_within_the_name_budget():
    transport = DrippingTransport(timeout=0.5)
    result, elapsed = _timed(lambda: federation_check(transport, [NAME], now=NOW, name_timeout=0.8))
    assert elapsed < 0.8 + MARGIN
    report = result["servers"][NAME]
    assert result["federation_ok"] is False
    assert "name_timeout" in _codes(report["problems"])
    assert "name_timeout" in result["msg"]


def test_federation_check_keeps_the_probes_already_done_when_the_budget_runs_out():
    # An explicit port: no well-known, so the probes of the three addresses run (in parallel)
    # and all drip past the budget.
    transport = DrippingTransport(timeout=2.0)
    result, elapsed = _timed(lambda: federation_check(transport, [NAME + ":8448"], now=NOW, name_timeout=0.5))
    assert elapsed < 0.5 + MARGIN
    report = result["servers"][NAME + ":8448"]
    assert sorted(connection["address"] for connection in report["connections"]) == ADDRESSES
    assert all(_codes(connection["problems"]) == ["connection_timeout"] for connection in report["connections"])
    assert "name_timeout" in _codes(report["problems"])


def test_the_first_step_time_ran_out_during_is_the_one_reported():
    budget = NameBudget(0.0)
    assert budget.problem(NAME) is None
    budget.note("the well-known fetch")
    budget.note("the probe of 192.0.2.1")
    assert budget.ran_out_during == "the well-known fetch"
    assert "ran out during the well-known fetch;" in budget.problem(NAME)["message"]


def test_a_call_cut_short_by_the_budget_is_named_even_if_it_timed_out_a_moment_early():
    clock = FakeClock()
    inner = DrippingTransport(timeout=5.0)
    inner._drip = _no_sleep(inner)  # "times out" at once
    budget = NameBudget(2.0, clock=clock)
    wrapped = NameBudgetTransport(inner, budget)
    with pytest.raises(TransportError):
        wrapped.https_get("42.0.0.1", 443, "/x", NAME, NAME, 100)
    # Given the 2 s left (less than its 5 s timeout), it timed out: the budget cut it short.
    assert "GET https://drip.test/x (42.0.0.1 port 443)" in budget.problem(NAME)["message"]


def test_a_call_that_timed_out_on_its_own_timeout_is_not_blamed_on_the_budget():
    clock = FakeClock()
    inner = DrippingTransport(timeout=5.0)
    inner._drip = _no_sleep(inner)
    budget = NameBudget(60.0, clock=clock)
    with pytest.raises(TransportError):
        NameBudgetTransport(inner, budget).https_get("42.0.0.1", 443, "/x", NAME, NAME, 100)
    assert budget.problem(NAME) is None
