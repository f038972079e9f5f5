# Copyright (c) 2026, homeserver.delegation developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The engine's thread-pool rule (see _discovery's docstring): a task in a pool never waits on
another task of the same pool, so far more waiting work than workers still finishes.

Each check runs in a thread of its own and must finish within a generous bound: a deadlock
shows as a failed test, not a hung suite. The fake network answers after a short sleep, so
the tasks really overlap."""

from __future__ import annotations

import threading
import time

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
    """Every DNS answer and HTTPS response takes a few milliseconds."""

    def query_srv(self, name):
        time.sleep(0.002)
        return super().query_srv(name)

    def query_address(self, host, family):
        time.sleep(0.002)
        return super().query_address(host, family)

    def https_get(self, *args, **kwargs):
        time.sleep(0.002)
        return super().https_get(*args, **kwargs)


def finishes(function):
    """Run function in a thread; return its result, or fail when it does not finish in time."""
    outcome = {}

    def run():
        outcome["result"] = function()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(BOUND_SECONDS)
    assert not thread.is_alive(), "still waiting after %d s: the pools deadlocked" % BOUND_SECONDS
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


def test_discovery_resolves_many_names_with_one_query_worker():
    names = ["n%d.example.org" % index for index in range(12)]
    network = SlowNetwork(srv_zone(names, 4), {})
    with ServerDiscovery(network, max_workers=1) as discovery:
        results = finishes(lambda: discovery.resolve_many(names, concurrency=12))
    assert [len(result["targets"]) for result in results] == [4] * 12


def test_srv_info_with_more_targets_than_workers():
    network = SlowNetwork(srv_zone(["example.org"], 40), {})
    report = finishes(lambda: srv_info(network, "example.org"))
    records = report["services"]["_matrix-fed._tcp"]["records"]
    assert len(records) == 40 and all(record["addresses"] for record in records)


def test_well_known_info_with_more_addresses_than_workers():
    addresses = ["42.0.0.%d" % index for index in range(1, 31)]
    url = "https://example.org/.well-known/matrix/server"
    network = SlowNetwork({"A": {"example.org": addresses}},
                          {url: {"status": 200, "body": '{"m.server": "matrix.example.org:443"}',
                                 "headers": {"Content-Type": "application/json"}}})
    report = finishes(lambda: well_known_info(network, "example.org", ("server", "client"), now=NOW.timestamp()))
    assert [entry["status"] for entry in report["server"]["addresses"]] == [200] * 30


def test_federation_check_of_many_names_each_with_many_targets_on_one_name_worker():
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
