# Copyright (c) 2026, homeserver.delegation developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""federation_check over a fake network: every problem code, federation_ok rules, what is sent."""

from __future__ import annotations

import datetime
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ansible_collections.homeserver.delegation.plugins.module_utils._discovery import SPECULATION_MAX_NAMES
from ansible_collections.homeserver.delegation.plugins.module_utils._federation import federation_check
from ansible_collections.homeserver.delegation.tests.unit.fake_federation import (
    NOW,
    NOW_MS,
    FakeFederationTransport,
    good_target,
    key_response,
    make_certificate,
)
from ansible_collections.homeserver.delegation.tests.unit.matrix_signing import encode_verify_key

#: pytest-xdist's worker has a thread of its own: see test__processes.py.
FORKS_UNDER_XDIST = pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")

NAME = "example.org"
DELEGATED = "matrix.example.org"
WK_URL = "https://example.org/.well-known/matrix/server"
JSON = {"Content-Type": "application/json"}
DNS = {"A": {NAME: ["42.0.0.10"], DELEGATED: ["42.0.0.20"]}, "AAAA": {DELEGATED: ["2a01:4f8::20"]}}
WELL_KNOWN = {WK_URL: {"status": 200, "body": '{"m.server": "matrix.example.org:443"}', "headers": JSON}}


def transport(targets=None, dns=None, responses=None, **kwargs):
    if targets is None:
        targets = {("42.0.0.20", 443): good_target(NAME, DELEGATED), ("2a01:4f8::20", 443): good_target(NAME, DELEGATED)}
    return FakeFederationTransport(dns or DNS, WELL_KNOWN if responses is None else responses, targets=targets, **kwargs)


def check(network, names=(NAME,)):
    result = federation_check(network, list(names), now=NOW)
    json.dumps(result)  # the module returns it: it must be plain JSON data
    return result


def codes(report, severity=None):
    return sorted(set(problem["code"] for problem in report["problems"]
                      if severity is None or problem["severity"] == severity))


def test_healthy_delegation_checks_every_address():
    network = transport()
    result = check(network)
    report = result["servers"][NAME]
    assert result["federation_ok"] is True and report["federation_ok"] is True
    assert codes(report, "error") == [] and codes(report, "warning") == []
    assert [(c["address"], c["ok"]) for c in report["connections"]] == [("2a01:4f8::20", True), ("42.0.0.20", True)]
    connection = report["connections"][1]
    assert connection["server_keys"]["verified_signatures"] == ["ed25519:auto"]
    assert connection["version"]["server"] == {"name": "Synapse", "version": "1.140.0"}
    assert connection["certificate"]["dns_names"] == [DELEGATED]
    assert report["discovery"]["method"] == "well_known_explicit_port"
    assert report["well_known"]["server"]["valid"] is True
    # TLS and HTTP exactly as homeservers send them for step 3.2.
    assert sorted((call["address"], call["tls_server_name"], call["host_header"]) for call in network.probe_calls) == [
        ("2a01:4f8::20", DELEGATED, "matrix.example.org:443"), ("42.0.0.20", DELEGATED, "matrix.example.org:443")]
    assert result["msg"] == "example.org: federation OK via well_known_explicit_port (2 addresses checked)"


def test_ip_literal_is_checked_without_well_known_and_with_the_ip_as_tls_name():
    network = transport(targets={("42.0.0.30", 8448): good_target("42.0.0.30", "42.0.0.30")}, responses={})
    report = check(network, ["42.0.0.30"])["servers"]["42.0.0.30"]
    assert report["federation_ok"] is True
    assert report["well_known"] is None and report["srv"] is None
    assert network.probe_calls[0]["tls_server_name"] == "42.0.0.30"


def test_srv_delegation_reports_the_srv_records_of_the_hostname():
    dns = {"A": {DELEGATED: ["42.0.0.20"]}, "SRV": {"_matrix-fed._tcp.example.org": [[10, 5, 8448, DELEGATED + "."]]}}
    network = transport(targets={("42.0.0.20", 8448): good_target(NAME, NAME)}, dns=dns, responses={})
    report = check(network)["servers"][NAME]
    assert report["federation_ok"] is True, report["problems"]
    assert report["discovery"]["method"] == "srv"
    assert report["srv"]["effective_service"] == "_matrix-fed._tcp"
    # For SRV the certificate must be valid for the server name, not for the SRV target.
    assert network.probe_calls[0]["tls_server_name"] == NAME and network.probe_calls[0]["host_header"] == NAME


def with_target(**overrides):
    return transport(targets={("42.0.0.20", 443): good_target(NAME, DELEGATED, **overrides),
                              ("2a01:4f8::20", 443): good_target(NAME, DELEGATED)})


def response(status=200, body=b"{}"):
    return {"status": status, "body": body, "too_large": False, "error": None}


def tls(verified=True, verify_code=None, verify_message=None, **certificate):
    return {"verified": verified, "verify_code": verify_code, "verify_message": verify_message,
            "version": "TLSv1.3", "cipher": "X", "certificate_der": make_certificate(**certificate)}


DAY = datetime.timedelta(days=1)
KEY = Ed25519PrivateKey.generate()
UNSIGNED_KEYS = json.dumps({"server_name": NAME, "valid_until_ts": NOW_MS + 10 ** 7,
                            "verify_keys": {"ed25519:a": {"key": encode_verify_key(KEY)}}}).encode()

CONNECTION_CASES = [
    ("connection_timeout", {"error": {"kind": "timeout", "message": "timed out"}}),
    ("tls_handshake_failed", {"error": {"kind": "tls_handshake", "message": "TLS handshake failed: WRONG_VERSION_NUMBER"}}),
    ("certificate_untrusted", {"tls": tls(False, 20, "unable to get local issuer certificate", dns_names=[DELEGATED])}),
    ("certificate_name_mismatch", {"tls": tls(False, 62, "Hostname mismatch", dns_names=["other.example.org"])}),
    ("certificate_expired", {"tls": tls(False, 10, "certificate has expired", dns_names=[DELEGATED],
                                        not_before=NOW - 90 * DAY, not_after=NOW - DAY)}),
    ("certificate_not_yet_valid", {"tls": tls(False, 9, "certificate is not yet valid", dns_names=[DELEGATED],
                                              not_before=NOW + DAY, not_after=NOW + 90 * DAY)}),
    ("version_unavailable", {"/_matrix/federation/v1/version": response(502, b"<html>Bad Gateway</html>")}),
    ("version_invalid", {"/_matrix/federation/v1/version": response(200, b"<html>hello</html>")}),
    ("keys_unavailable", {"/_matrix/key/v2/server": response(404, b"not found")}),
    ("keys_invalid", {"/_matrix/key/v2/server": response(200, b"<html>")}),
    ("keys_server_name_mismatch", {"/_matrix/key/v2/server": response(200, key_response("other.example.org"))}),
    ("keys_expired", {"/_matrix/key/v2/server": response(200, key_response(NAME, valid_until_ts=NOW_MS - 1))}),
    ("keys_no_ed25519", {"/_matrix/key/v2/server": response(200, json.dumps(
        {"server_name": NAME, "valid_until_ts": NOW_MS + 10 ** 7, "verify_keys": {}}).encode())}),
    ("keys_signature_invalid", {"/_matrix/key/v2/server": response(200, UNSIGNED_KEYS)}),
]


@pytest.mark.parametrize("expected, overrides", CONNECTION_CASES, ids=[case[0] for case in CONNECTION_CASES])
def test_each_connection_problem_fails_federation(expected, overrides):
    result = check(with_target(**overrides))
    report = result["servers"][NAME]
    assert codes(report, "error") == [expected]
    assert result["federation_ok"] is False and report["federation_ok"] is False
    failed = [c for c in report["connections"] if not c["ok"]]
    assert [c["address"] for c in failed] == ["42.0.0.20"]
    assert all("42.0.0.20" in p["message"] for p in failed[0]["problems"])
    assert result["msg"] == "example.org: federation FAILS via well_known_explicit_port (2 addresses checked): " + expected


def test_a_closed_ipv6_address_fails_federation_while_ipv4_works():
    network = transport(targets={("42.0.0.20", 443): good_target(NAME, DELEGATED)})
    report = check(network)["servers"][NAME]
    assert report["federation_ok"] is False
    assert codes(report, "error") == ["connection_failed"]
    assert [(c["address"], c["ok"]) for c in report["connections"]] == [("2a01:4f8::20", False), ("42.0.0.20", True)]


def test_a_certificate_expiring_soon_is_a_warning_only():
    soon = tls(dns_names=[DELEGATED], not_after=NOW + 5 * DAY)
    result = check(with_target(tls=soon))
    assert result["federation_ok"] is True
    assert codes(result["servers"][NAME], "warning") == ["certificate_expires_soon"]
    assert "1 warning: certificate_expires_soon" in result["msg"]


def test_without_certificate_validation_certificate_problems_are_warnings():
    wrong = tls(False, 62, "Hostname mismatch", dns_names=["other.example.org"])
    network = transport(targets={("42.0.0.20", 443): good_target(NAME, DELEGATED, tls=wrong),
                                 ("2a01:4f8::20", 443): good_target(NAME, DELEGATED)}, validate_certs=False)
    report = check(network)["servers"][NAME]
    assert report["federation_ok"] is True
    assert codes(report, "warning") == ["certificate_name_mismatch"]


def test_wildcard_and_ip_certificates_match():
    wildcard = tls(dns_names=["*.example.org"])
    assert check(with_target(tls=wildcard))["federation_ok"] is True
    too_deep = tls(False, 62, "Hostname mismatch", dns_names=["*.org"])
    assert codes(check(with_target(tls=too_deep))["servers"][NAME], "error") == ["certificate_name_mismatch"]


@pytest.mark.parametrize("body", ["<html><body>Welcome to nginx!</body></html>", '{"m.server": "https://matrix.example.org"}',
                                  '["matrix.example.org"]', "{}"])
def test_a_200_well_known_with_an_invalid_document_fails_federation_even_though_8448_works(body):
    dns = {"A": {NAME: ["42.0.0.10"]}}
    responses = {WK_URL: {"status": 200, "body": body, "headers": {"Content-Type": "text/html"}}}
    network = transport(targets={("42.0.0.10", 8448): good_target(NAME, NAME)}, dns=dns, responses=responses)
    result = check(network)
    report = result["servers"][NAME]
    assert report["discovery"]["method"] == "default_port"
    assert all(connection["ok"] for connection in report["connections"])
    assert report["federation_ok"] is False
    errors = codes(report, "error")
    assert len(errors) == 1 and errors[0] in ("not_json", "invalid_m_server", "not_object", "missing_m_server")
    assert "well_known_invalid" not in codes(report)


def test_no_well_known_and_a_working_default_port_is_fine():
    dns = {"A": {NAME: ["42.0.0.10"]}}
    network = transport(targets={("42.0.0.10", 8448): good_target(NAME, NAME)}, dns=dns, responses={
        WK_URL: {"status": 404, "body": "not found", "headers": {}}})
    report = check(network)["servers"][NAME]
    assert report["federation_ok"] is True
    assert codes(report, "error") == [] and codes(report, "warning") == []


def test_addresses_serving_different_well_knowns_fail_federation():
    dns = dict(DNS, AAAA=dict(DNS["AAAA"], **{NAME: ["2a01:4f8::10"]}))
    other = {"status": 200, "body": '{"m.server": "old.example.org:8448"}', "headers": JSON}
    network = transport(dns=dns)
    network.address_responses = {("42.0.0.10", WK_URL): other}
    report = check(network)["servers"][NAME]
    assert report["federation_ok"] is False
    assert codes(report, "error") == ["inconsistent"]


def test_invalid_and_unresolvable_names():
    result = check(transport(), ["exa mple.org", "nowhere.example.org", NAME])
    assert result["federation_ok"] is False
    assert codes(result["servers"]["exa mple.org"], "error") == ["invalid_server_name"]
    assert result["servers"]["nowhere.example.org"]["federation_ok"] is False
    assert codes(result["servers"]["nowhere.example.org"], "error") == ["no_address"]
    assert result["servers"][NAME]["federation_ok"] is True
    assert result["msg"].splitlines() == [
        "exa mple.org: federation FAILS: invalid_server_name",
        "nowhere.example.org: federation FAILS: no_address",
        "example.org: federation OK via well_known_explicit_port (2 addresses checked)",
    ]


def test_duplicate_names_are_checked_once():
    network = transport()
    result = check(network, [NAME, NAME])
    assert list(result["servers"]) == [NAME] and len(result["msg"].splitlines()) == 1
    assert len(network.probe_calls) == 2


def test_many_names_concurrently_keep_their_order():
    names = ["n%d.example.org" % index for index in range(40)]
    dns = {"A": dict((name, ["42.0.1.%d" % index]) for index, name in enumerate(names))}
    targets = dict((("42.0.1.%d" % index, 8448), good_target(name, name)) for index, name in enumerate(names))
    result = federation_check(FakeFederationTransport(dns, {}, targets=targets), names, concurrency=7, now=NOW)
    assert result["federation_ok"] is True
    assert list(result["servers"]) == names


def test_each_question_is_asked_once_per_run():
    network = transport()
    check(network)
    asked = [entry for entry in network.log if not entry.startswith("PROBE")]
    assert sorted(asked) == sorted(set(asked)), "a DNS query or HTTPS GET was repeated"
    assert asked.count("GET https://example.org/.well-known/matrix/server") == 1
    assert "SRV _matrix-fed._tcp.example.org" in asked and "A example.org" in asked


DEEP = b"[" * 10000 + b"]" * 10000


@pytest.mark.parametrize("path, body, expected, detail", [
    pytest.param("/_matrix/key/v2/server", b'{"server_name": ' + DEEP + b"}", "keys_invalid",
                 "nested more than 64 levels deep", id="keys-nested-10000-deep"),
    pytest.param("/_matrix/key/v2/server", b'{"server_name": "example.org", "valid_until_ts": NaN}', "keys_invalid",
                 "NaN is not valid JSON", id="keys-NaN"),
    pytest.param("/_matrix/federation/v1/version", b'{"server": ' + DEEP + b"}", "version_invalid",
                 "nested more than 64 levels deep", id="version-nested-10000-deep"),
    pytest.param("/_matrix/federation/v1/version", b'{"server": {"name": "Synapse", "version": Infinity}}',
                 "version_invalid", "Infinity is not valid JSON", id="version-Infinity"),
])
def test_a_federation_answer_that_is_not_valid_json_is_reported_not_a_crash(path, body, expected, detail):
    report = check(with_target(**{path: response(200, body)}))["servers"][NAME]
    assert codes(report, "error") == [expected]
    failed = [c for c in report["connections"] if not c["ok"]]
    assert [c["address"] for c in failed] == ["42.0.0.20"]
    assert [p["code"] for p in failed[0]["problems"]] == [expected]
    assert detail in failed[0]["problems"][0]["message"]


def test_a_request_that_misses_the_deadline_is_a_connection_timeout():
    late = {"status": None, "headers": {}, "body": b"", "too_large": False, "error_kind": "timeout",
            "error": "no complete response within 10 s (the deadline of the whole probe)"}
    report = check(with_target(**{"/_matrix/federation/v1/version": late, "/_matrix/key/v2/server": late}))
    report = report["servers"][NAME]
    assert codes(report, "error") == ["connection_timeout"]
    failed = [c for c in report["connections"] if not c["ok"]]
    assert [c["address"] for c in failed] == ["42.0.0.20"]
    assert sorted(p["message"].split(": ", 1)[1] for p in failed[0]["problems"]) == [
        "GET /_matrix/federation/v1/version failed: " + late["error"],
        "GET /_matrix/key/v2/server failed: " + late["error"]]


BACKUP = "backup.example.org"


def srv_network(preferred_works, backup_works, extra_dns=None):
    """SRV delegation with matrix.example.org at priority 10 and backup.example.org at 20."""
    dns = {"A": {DELEGATED: ["42.0.0.20"], BACKUP: ["42.0.0.21"]},
           "SRV": {"_matrix-fed._tcp.example.org": [[10, 5, 8448, DELEGATED + "."], [20, 5, 8448, BACKUP + "."]]}}
    for key, value in (extra_dns or {}).items():
        dns.setdefault(key, {}).update(value)
    targets = {}
    if preferred_works:
        targets[("42.0.0.20", 8448)] = good_target(NAME, NAME)
    if backup_works:
        targets[("42.0.0.21", 8448)] = good_target(NAME, NAME)
    return transport(targets=targets, dns=dns, responses={})


def test_a_refusing_backup_srv_target_is_a_warning():
    result = check(srv_network(preferred_works=True, backup_works=False))
    report = result["servers"][NAME]
    assert result["federation_ok"] is True, report["problems"]
    assert codes(report, "error") == [] and codes(report, "warning") == ["backup_target_failed"]
    warning = [p for p in report["problems"] if p["code"] == "backup_target_failed"][0]
    assert "42.0.0.21 port 8448 (backup.example.org)" in warning["message"]
    assert "priority 20" in warning["message"] and "connection_failed" in warning["message"]
    connections = dict((c["address"], c) for c in report["connections"])
    assert (connections["42.0.0.20"]["ok"], connections["42.0.0.20"]["backup"]) == (True, False)
    assert (connections["42.0.0.21"]["ok"], connections["42.0.0.21"]["backup"]) == (False, True)
    # The address keeps its own problem, with its own code and severity.
    assert [(p["code"], p["severity"]) for p in connections["42.0.0.21"]["problems"]] == [("connection_failed", "error")]
    assert result["msg"] == "example.org: federation OK via srv (2 addresses checked), 1 warning: backup_target_failed"


def test_a_refusing_preferred_srv_target_fails_though_the_backup_works():
    result = check(srv_network(preferred_works=False, backup_works=True))
    report = result["servers"][NAME]
    assert result["federation_ok"] is False
    assert codes(report, "error") == ["connection_failed"]
    assert "backup_target_failed" not in codes(report)


def test_an_srv_problem_seen_by_discovery_and_the_srv_report_is_listed_once():
    network = srv_network(True, True, {"CNAME": {"alias.example.org": DELEGATED},
                                       "SRV": {"_matrix-fed._tcp.example.org": [[10, 5, 8448, "alias.example.org."]]}})
    report = check(network)["servers"][NAME]
    cname = [p for p in report["problems"] if p["code"] == "target_is_cname"]
    assert len(cname) == 1 and cname[0]["severity"] == "error"
    assert report["srv"]["problems"] == cname


def test_a_broken_legacy_srv_service_beside_a_working_one_is_a_warning():
    network = srv_network(True, True, {"SRV": {"_matrix._tcp.example.org": [[10, 5, 8448, "nowhere.example.org."]]}})
    result = check(network)
    report = result["servers"][NAME]
    assert result["federation_ok"] is True, report["problems"]
    assert codes(report, "warning") == ["services_differ", "target_unresolvable"]


def test_one_well_known_address_failing_while_another_answers_is_a_warning():
    dns = {"A": {NAME: ["42.0.0.10"], DELEGATED: ["42.0.0.20"]},
           "AAAA": {NAME: ["2a01:4f8::10"], DELEGATED: ["2a01:4f8::20"]}}
    network = FakeFederationTransport(
        dns, WELL_KNOWN, address_responses={("2a01:4f8::10", WK_URL): {"fetch_error": "unreachable connection refused"}},
        targets={("42.0.0.20", 443): good_target(NAME, DELEGATED), ("2a01:4f8::20", 443): good_target(NAME, DELEGATED)})
    result = check(network)
    report = result["servers"][NAME]
    assert result["federation_ok"] is True, report["problems"]
    unreachable = [p for p in report["problems"] if p["code"] == "unreachable"]
    assert [p["severity"] for p in unreachable] == ["warning"]
    assert unreachable[0]["message"].startswith("the well-known from address 2a01:4f8::10: ")


@pytest.mark.parametrize("count, srv_asked", [(1, True), (SPECULATION_MAX_NAMES + 1, False)])
def test_the_srv_report_is_asked_ahead_only_for_few_names(count, srv_asked):
    """A delegation by well-known to an explicit port never consults SRV records: with few
    names they are asked for while discovery runs (round trips saved), with many not at all
    (CPU saved); the report has no SRV part either way."""
    names = ["n%d.example.org" % index for index in range(count)]
    dns = {"A": dict({name: ["42.0.1.%d" % index] for index, name in enumerate(names)}, **{DELEGATED: ["42.0.0.20"]})}
    responses = {"https://%s/.well-known/matrix/server" % name: {
        "status": 200, "body": '{"m.server": "matrix.example.org:443"}', "headers": JSON} for name in names}
    targets = {("42.0.0.20", 443): good_target(NAME, DELEGATED)}
    network = FakeFederationTransport(dns, responses, targets=targets)
    result = federation_check(network, names, now=NOW)
    assert all(report["srv"] is None for report in result["servers"].values())
    assert all(report["discovery"]["method"] == "well_known_explicit_port" for report in result["servers"].values())
    assert any(entry.startswith("SRV ") for entry in network.log) is srv_asked


@FORKS_UNDER_XDIST
def test_names_shared_among_processes_give_the_same_result_as_one_process():
    """From 200 names on, federation_check shares them among forked processes; each process
    checks its share on its own loop. The result must not show it."""
    names = ["n%d.example.org" % index for index in range(9)] + ["invalid_name!", "unresolvable.example.org"]
    dns = {"A": dict({name: ["42.0.1.%d" % index] for index, name in enumerate(names[:9])}, **{DELEGATED: ["42.0.0.20"]})}
    responses = {"https://%s/.well-known/matrix/server" % name: {
        "status": 200, "body": '{"m.server": "matrix.example.org:443"}', "headers": JSON} for name in names[:5]}
    targets = {("42.0.1.%d" % index, 8448): good_target(name, name) for index, name in enumerate(names[:9])}
    # The first five delegate by well-known to a server whose keys name another server.
    targets[("42.0.0.20", 443)] = good_target(NAME, DELEGATED)
    alone = federation_check(FakeFederationTransport(dns, responses, targets=targets), names, now=NOW, processes=1)
    shared = federation_check(FakeFederationTransport(dns, responses, targets=targets), names, now=NOW, processes=3)
    assert alone.pop("processes") == 1 and shared.pop("processes") == 3
    assert shared == json.loads(json.dumps(alone))
    assert list(shared["servers"]) == names and shared["federation_ok"] is False
    assert [shared["servers"][name]["federation_ok"] for name in names] == [False] * 5 + [True] * 4 + [False] * 2


@FORKS_UNDER_XDIST
@pytest.mark.parametrize("concurrency, processes, shared_by", [(None, 3, 3), (2, 3, 2), (1, 3, None), (None, 1, None)])
def test_no_more_processes_than_names_checked_at_once(monkeypatch, concurrency, processes, shared_by):
    from ansible_collections.homeserver.delegation.plugins.module_utils import _federation
    calls = []
    original = _federation.map_shares

    def recording(function, items, count):
        calls.append(count)
        return original(function, items, count)

    monkeypatch.setattr(_federation, "map_shares", recording)
    names = ["n%d.example.org" % index for index in range(6)]
    result = federation_check(FakeFederationTransport({}, {}), names, concurrency=concurrency, now=NOW,
                              processes=processes)
    assert list(result["servers"]) == names
    assert calls == ([] if shared_by is None else [shared_by])
    assert result["processes"] == (shared_by or 1)
