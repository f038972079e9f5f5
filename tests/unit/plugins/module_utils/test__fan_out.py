# Copyright (c) 2026, homeserver.delegation developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The engine's one loop (``_loop``, see _discovery's docstring): whatever the fan-out (names,
SRV targets, addresses of a host), everything waits at once and finishes; there is no pool of
workers to exhaust.

Each check runs in a thread of its own and must finish within a generous bound: a hang shows
as a failed test, not a hung suite. The fake network answers after a short wait on the loop
and counts what is in flight, so the checks see that the work really overlaps."""

from __future__ import annotations

import threading

from ansible_collections.homeserver.delegation.plugins.module_utils import _loop
from ansible_collections.homeserver.delegation.plugins.module_utils._discovery import ServerDiscovery
from ansible_collections.homeserver.delegation.plugins.module_utils._federation import federation_check
from ansible_collections.homeserver.delegation.plugins.module_utils._srv_info import srv_info
from ansible_collections.homeserver.delegation.plugins.module_utils._well_known_info import well_known_info
from ansible_collections.homeserver.delegation.tests.unit.fake_federation import (
    NOW,
    FakeFederationTransport,
    good_target,
)

BOUND_SECONDS = 30


class SlowNetwork(FakeFederationTransport):
    """Every DNS answer and HTTPS response takes a few milliseconds on the loop; ``most`` is the
    largest number of calls in flight at once."""

    in_flight = most = 0

    async def _wait(self, answer, *args, **kwargs):
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            await _loop.sleep(0.002)
            return answer(*args, **kwargs)
        finally:
            self.in_flight -= 1

    async def aquery_srv(self, name):
        return await self._wait(self.query_srv, name)

    async def aquery_address(self, host, family):
        return await self._wait(self.query_address, host, family)

    async def ahttps_get(self, *args, **kwargs):
        return await self._wait(self.https_get, *args, **kwargs)


def finishes(function):
    """Run function in a thread; return its result, or fail when it does not finish in time."""
    outcome = {}

    def run():
        outcome["result"] = function()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(BOUND_SECONDS)
    assert not thread.is_alive(), "still waiting after %d s" % BOUND_SECONDS
    return outcome["result"]


def srv_zone(names, targets_per_name):
    dns = {"A": {}, "SRV": {}}
    for name in names:
        records = []
        for index in range(targets_per_name):
            target = "t%d.%s" % (index, name)
            records.append([10, 1, 8448, target + "."])
            dns["A"][target] = ["42.0.%d.%d" % (names.index(name), index + 1)]
        dns["SRV"]["_matrix-fed._tcp." + name] = records
    return dns


def test_discovery_resolves_many_names_at_once():
    names = ["n%d.example.org" % index for index in range(12)]
    network = SlowNetwork(srv_zone(names, 4), {})
    results = finishes(lambda: ServerDiscovery(network).resolve_many(names, concurrency=12))
    assert [len(result["targets"]) for result in results] == [4] * 12
    # The AAAA and A queries of the 4 targets of every name wait together.
    assert network.most >= 12 * 4 * 2


def test_srv_info_of_forty_targets():
    network = SlowNetwork(srv_zone(["example.org"], 40), {})
    report = finishes(lambda: srv_info(network, "example.org"))
    records = report["services"]["_matrix-fed._tcp"]["records"]
    assert len(records) == 40 and all(record["addresses"] for record in records)
    assert network.most == 40 * 2


def test_well_known_info_of_thirty_addresses():
    addresses = ["42.0.0.%d" % index for index in range(1, 31)]
    url = "https://example.org/.well-known/matrix/server"
    network = SlowNetwork({"A": {"example.org": addresses}},
                          {url: {"status": 200, "body": '{"m.server": "matrix.example.org:443"}',
                                 "headers": {"Content-Type": "application/json"}}})
    report = finishes(lambda: well_known_info(network, "example.org", ("server", "client"), now=NOW.timestamp()))
    assert [entry["status"] for entry in report["server"]["addresses"]] == [200] * 30
    assert network.most >= 30  # one request per address, all at once


def test_federation_check_of_many_names_each_with_many_targets_one_name_at_a_time():
    names = ["n%d.example.org" % index for index in range(6)]
    dns = srv_zone(names, 8)
    targets = {}
    for name in names:
        for index in range(8):
            targets[(dns["A"]["t%d.%s" % (index, name)][0], 8448)] = good_target(name, name)
    network = SlowNetwork(dns, {}, targets=targets)
    result = finishes(lambda: federation_check(network, names, concurrency=1, now=NOW))
    assert result["federation_ok"] is True, result["msg"]
    assert [len(result["servers"][name]["connections"]) for name in names] == [8] * 6
