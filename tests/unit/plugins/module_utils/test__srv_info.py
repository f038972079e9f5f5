# Copyright (c) 2026, homeserver.delegation developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""srv_info: records in preference order, each problem code, and a correct zone with none."""

from __future__ import annotations

import pytest

from ansible_collections.homeserver.delegation.plugins.module_utils._srv_info import srv_info
from ansible_collections.homeserver.delegation.tests.unit.fake_federation import FakeFederationTransport

FED = "_matrix-fed._tcp.example.org"
LEGACY = "_matrix._tcp.example.org"
TARGET_ADDRESSES = {"A": {"matrix.example.org": ["42.0.0.1"], "backup.example.org": ["42.0.0.2"]},
                    "AAAA": {"matrix.example.org": ["2a01:4f8::1"]}}


def zone(**extra):
    dns = {"A": dict(TARGET_ADDRESSES["A"]), "AAAA": dict(TARGET_ADDRESSES["AAAA"]), "SRV": {}}
    for key, value in extra.items():
        dns.setdefault(key, {}).update(value)
    return dns


def codes(result):
    return sorted(problem["code"] for problem in result["problems"])


GOOD = zone(SRV={FED: [[10, 5, 8448, "matrix.example.org."]]})


def test_correct_records_give_no_problem_and_full_detail():
    result = srv_info(FakeFederationTransport(GOOD), "example.org")
    assert codes(result) == []
    assert result["effective_service"] == "_matrix-fed._tcp"
    fed = result["services"]["_matrix-fed._tcp"]
    assert fed["rcode"] == "NOERROR"
    assert fed["records"] == [{"priority": 10, "weight": 5, "port": 8448, "target": "matrix.example.org",
                               "addresses": ["2a01:4f8::1", "42.0.0.1"], "is_cname": False, "cname_chain": []}]
    assert result["services"]["_matrix._tcp"]["rcode"] == "NXDOMAIN"


def test_records_come_in_preference_order():
    dns = zone(SRV={FED: [[20, 0, 8448, "backup.example.org."], [10, 1, 8448, "backup.example.org."],
                          [10, 9, 443, "matrix.example.org."]]})
    records = srv_info(FakeFederationTransport(dns), "example.org")["services"]["_matrix-fed._tcp"]["records"]
    assert [(r["priority"], r["weight"], r["port"]) for r in records] == [(10, 9, 443), (10, 1, 8448), (20, 0, 8448)]


def test_no_srv_at_all_is_not_a_problem():
    result = srv_info(FakeFederationTransport(zone()), "example.org")
    assert codes(result) == []
    assert result["effective_service"] is None


@pytest.mark.parametrize("dns, expected, severity", [
    pytest.param(zone(SRV={LEGACY: [[10, 5, 8448, "matrix.example.org."]]}), ["legacy_only"], "warning",
                 id="legacy_only"),
    pytest.param(zone(SRV={FED: [[0, 0, 0, "."]]}), ["srv_unavailable"], "error", id="srv_unavailable"),
    pytest.param(zone(SRV={FED: [[0, 0, 0, "."], [10, 5, 8448, "matrix.example.org."]]}), ["srv_invalid_target"],
                 "warning", id="srv_invalid_target-dot-among-real-targets"),
    pytest.param(zone(SRV={FED: [[10, 5, 8448, "alias.example.org."]]}, CNAME={"alias.example.org": "matrix.example.org"}),
                 ["target_is_cname"], "error", id="target_is_cname"),
    pytest.param(zone(SRV={FED: [[10, 5, 8448, "nowhere.example.org."]]}), ["target_unresolvable"], "error",
                 id="target_unresolvable-only-target"),
    pytest.param(zone(SRV={FED: [[10, 5, 8448, "nowhere.example.org."], [20, 5, 8448, "matrix.example.org."]]}),
                 ["target_unresolvable"], "error", id="target_unresolvable-preferred-target-backup-resolves"),
    pytest.param(zone(SRV={FED: [[10, 5, 8448, "matrix.example.org."], [20, 5, 8448, "nowhere.example.org."]]}),
                 ["target_unresolvable"], "warning", id="target_unresolvable-backup-target"),
    pytest.param(zone(SRV={FED: [[10, 5, 8448, "matrix.example.org."]], LEGACY: [[10, 5, 8448, "backup.example.org."]]}),
                 ["services_differ"], "warning", id="services_differ"),
    pytest.param(zone(SRV_error={FED: "SERVFAIL"}), ["srv_lookup_failed"], "error",
                 id="srv_lookup_failed-federation-service"),
    pytest.param(zone(SRV_error={LEGACY: "SERVFAIL"}), ["srv_lookup_failed"], "error",
                 id="srv_lookup_failed-legacy-service-used-for-lack-of-the-other"),
    pytest.param(zone(SRV={FED: [[10, 5, 8448, "matrix.example.org."]]}, SRV_error={LEGACY: "SERVFAIL"}),
                 ["srv_lookup_failed"], "warning", id="srv_lookup_failed-legacy-service-unused"),
    pytest.param(zone(SRV={FED: [[10, 5, 8448, "matrix.example.org."]], LEGACY: [[10, 5, 8448, "nowhere.example.org."]]}),
                 ["services_differ", "target_unresolvable"], "warning", id="target_unresolvable-of-the-unused-service"),
])
def test_each_problem(dns, expected, severity):
    result = srv_info(FakeFederationTransport(dns), "example.org")
    assert codes(result) == expected
    assert set(problem["severity"] for problem in result["problems"]) == {severity}
    assert all(problem["message"] for problem in result["problems"])


def test_same_records_in_both_services_do_not_differ():
    records = [[10, 5, 8448, "matrix.example.org."]]
    assert codes(srv_info(FakeFederationTransport(zone(SRV={FED: records, LEGACY: records})), "example.org")) == []


@pytest.mark.parametrize("expected_target, expected_port, mismatch", [
    ("matrix.example.org", 8448, False),
    ("matrix.example.org.", None, False),
    (None, 8448, False),
    ("other.example.org", 8448, True),
    ("matrix.example.org", 443, True),
])
def test_mismatch_against_expected_target_and_port(expected_target, expected_port, mismatch):
    result = srv_info(FakeFederationTransport(GOOD), "example.org", expected_target, expected_port)
    assert codes(result) == (["mismatch"] if mismatch else [])


def test_mismatch_when_expected_but_no_record():
    result = srv_info(FakeFederationTransport(zone()), "example.org", "matrix.example.org", 8448)
    assert codes(result) == ["mismatch"]


def test_legacy_records_are_the_effective_ones_when_alone():
    dns = zone(SRV={LEGACY: [[10, 5, 8448, "matrix.example.org."]]})
    result = srv_info(FakeFederationTransport(dns), "example.org", "matrix.example.org", 8448)
    assert result["effective_service"] == "_matrix._tcp"
    assert "mismatch" not in codes(result)


@pytest.mark.parametrize("name, message", [
    ("1.2.3.4", "IP literal"),
    ("example.org:8448", "explicit port"),
    ("exa mple.org", "not a valid server name"),
])
def test_names_srv_never_applies_to_are_refused(name, message):
    with pytest.raises(ValueError, match=message):
        srv_info(FakeFederationTransport(GOOD), name)
