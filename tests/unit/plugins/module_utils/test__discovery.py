# Copyright (c) homeserver.delegation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json
import random
import time

import pytest

from fake_transport import FakeTransport, FirstChoiceRng, load_corpus

from ansible_collections.homeserver.delegation.plugins.module_utils import _loop
from ansible_collections.homeserver.delegation.plugins.module_utils._discovery import (
    DiscoveryError,
    ServerDiscovery,
    SPECULATION_MAX_NAMES,
    order_srv_records,
)
from ansible_collections.homeserver.delegation.plugins.module_utils._transport import (
    SrvRecord,
)

CORPUS = load_corpus()
RESOLUTION_CASES = [case for case in CORPUS
                    if case["category"] in ("resolution", "wellknown_validation")]
# (parallel, speculative): one query after the other in spec order; parallel with speculative
# SRV queries (the default for few names); parallel without them (the default for many).
MODES = [pytest.param((False, None), id="sequential"),
         pytest.param((True, True), id="parallel"),
         pytest.param((True, False), id="parallel-no-speculation")]
RESULT_KEYS = {"server_name", "method", "delegated_server", "well_known", "well_known_error",
               "cache_seconds", "host_header", "tls_server_name", "sni", "targets", "problems",
               "steps"}


def _case(case_id):
    return next(case for case in CORPUS if case["id"] == case_id)


def _resolve(case, mode, transport=None):
    parallel, speculative = mode
    transport = transport or FakeTransport.for_case(case)
    discovery = ServerDiscovery(transport, parallel=parallel, speculative=speculative,
                                rng=FirstChoiceRng())
    return discovery.resolve(case["server_name"]), transport


def _observed_lookups(log):
    """The transport log as the corpus writes lookups: an AAAA and an A query of one host
    become "A/AAAA host"."""
    observed = []
    index = 0
    while index < len(log):
        entry = log[index]
        kind, dummy, name = entry.partition(" ")
        if kind in ("A", "AAAA") and index + 1 < len(log):
            next_kind, dummy, next_name = log[index + 1].partition(" ")
            if next_name == name and {kind, next_kind} == {"A", "AAAA"}:
                observed.append("A/AAAA %s" % name)
                index += 2
                continue
        observed.append(entry)
        index += 1
    return observed


def _expected_lookups(case, transport):
    """The corpus' lookups with the implied A/AAAA query of each well-known host made explicit
    (and no GET where that host has no address, as no request can then be made)."""
    expected = []
    for entry in case["expected"]["lookups"]:
        entry = entry.replace(" (follows CNAME)", "")
        if entry.startswith("GET https://"):
            host = entry[len("GET https://"):].split("/", 1)[0]
            expected.append("A/AAAA %s" % host)
            answers = [transport.query_address(host, family) for family in ("AAAA", "A")]
            if not any(answer.addresses for answer in answers):
                continue
        expected.append(entry)
    return expected


def _assert_route(result, expected):
    for key in ("host_header", "tls_server_name", "sni"):
        if key in expected:
            assert result[key] == expected[key], key
    targets = [(target["host"], target["address"], target["port"]) for target in result["targets"]]
    if "candidates" in expected:
        candidates = [(candidate["host"], candidate["ip"], candidate["port"])
                      for candidate in expected["candidates"]]
        if expected["kind"] == "error":
            # Every candidate failed: there must be no other target to fall back to.
            assert targets == candidates
        else:
            assert targets[:len(candidates)] == candidates
    else:
        assert targets[0] == (expected["host"], expected["ip"], expected["port"])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", RESOLUTION_CASES, ids=[case["id"] for case in RESOLUTION_CASES])
def test_corpus_resolution(case, mode):
    expected = case["expected"]
    if expected["kind"] == "error" and "resolved" not in expected and "candidates" not in expected:
        # The resolution itself must fail (service unavailable, invalid port).
        with pytest.raises(DiscoveryError) as caught:
            _resolve(case, mode)
        assert caught.value.server_name == case["server_name"]
        codes = {problem["code"] for problem in caught.value.result["problems"]}
        why = expected["why"].split(":")[0]
        assert {"service_unavailable": "srv_unavailable",
                "invalid_port": "invalid_server_name"}[why] in codes
        return

    result, transport = _resolve(case, mode)
    assert set(result) == RESULT_KEYS
    assert result["server_name"] == case["server_name"]
    # Errors with "resolved" or "candidates" fail only when connecting (TLS check, refused
    # connection); the resolution must still give the route the corpus names.
    _assert_route(result, expected.get("resolved", expected))
    if "delegated_server" in expected:
        assert result["delegated_server"] == expected["delegated_server"]
    if "lookups" in expected and mode == (False, None):
        assert _observed_lookups(transport.log) == _expected_lookups(case, transport)
    if "wellknown_request" in expected:
        request = expected["wellknown_request"]
        call = transport.http_calls[0]
        assert "%s:%d" % (call["address"], call["port"]) == request["connect"]
        assert (call["sni"], call["host_header"]) == (request["sni"], request["host_header"])
    json.dumps(result)


def test_proxy_case_is_out_of_scope():
    case = _case("syn-explicit-port-via-https-proxy")
    assert case["category"] == "proxy"
    pytest.skip("https_proxy is a Synapse configuration, not part of server discovery; the "
                "lookup connects directly and ignores proxy environment variables")


@pytest.mark.parametrize("case_id, method", [
    ("syn-ipv4-literal-no-port", "ip_literal"),
    ("syn-ipv6-literal-with-port", "ip_literal"),
    ("syn-explicit-port-hostname", "explicit_port"),
    ("spec-step3.1-wellknown-ipv4", "well_known_ip_literal"),
    ("spec-step3.1-wellknown-ipv6-port", "well_known_ip_literal"),
    ("spec-step3.2-wellknown-hostname-port", "well_known_explicit_port"),
    ("syn-wellknown-then-srv-matrix-fed", "well_known_srv"),
    ("syn-wellknown-then-srv-legacy", "well_known_srv_legacy"),
    ("syn-wellknown-delegate-no-port", "well_known_default_port"),
    ("syn-srv-matrix-fed-on-original", "srv"),
    ("syn-srv-legacy-on-original", "srv_legacy"),
    ("syn-no-srv-no-wellknown", "default_port"),
    ("wk-m-server-with-scheme", "default_port"),
])
@pytest.mark.parametrize("mode", MODES)
def test_method_names_the_step(case_id, method, mode):
    result, dummy = _resolve(_case(case_id), mode)
    assert result["method"] == method


@pytest.mark.parametrize("case_id, code, severity", [
    ("syn-ipv4-literal-no-port", "ip_literal_server_name", "warning"),
    ("spec-step3.1-wellknown-ipv4", "ip_literal_server_name", "warning"),
    ("syn-srv-legacy-on-original", "legacy_only", "warning"),
    ("syn-wellknown-then-srv-legacy", "legacy_only", "warning"),
    ("spec-srv-target-cname", "target_is_cname", "error"),
    ("wk-404", "well_known_absent", "info"),
    ("syn-srv-matrix-fed-on-original", "well_known_absent", "info"),
    ("wk-json-nan", "well_known_invalid", "warning"),
    ("wk-m-server-port-out-of-range", "well_known_invalid", "warning"),
    ("wk-redirect-loop", "well_known_invalid", "warning"),
    ("syn-no-srv-no-wellknown", "well_known_unreachable", "warning"),
    ("syn-wellknown-untrusted-cert", "well_known_tls_invalid", "warning"),
    ("syn-wellknown-redirect-302", "well_known_redirected", "info"),
    ("syn-wellknown-delegate-no-port", "no_ipv4", "warning"),
    ("spec-step2-hostname-port", "no_ipv6", "info"),
])
def test_problems(case_id, code, severity):
    result, dummy = _resolve(_case(case_id), (True, None))
    matching = [problem for problem in result["problems"] if problem["code"] == code]
    assert matching, result["problems"]
    assert matching[0]["severity"] == severity
    assert matching[0]["message"]


def test_invalid_well_known_is_explained():
    result, dummy = _resolve(_case("wk-m-server-with-scheme"), (True, None))
    assert result["well_known_error"].startswith("invalid_m_server: ")
    assert "it contains a URL scheme" in result["well_known_error"]
    assert result["well_known"] is None
    assert result["delegated_server"] is None
    assert result["cache_seconds"] == 3600


def test_valid_well_known_is_reported():
    result, dummy = _resolve(_case("syn-wellknown-then-srv-matrix-fed"), (True, None))
    assert result["well_known"] == {"m.server": "target-server"}
    assert result["delegated_server"] == "target-server"
    assert result["well_known_error"] is None
    assert result["cache_seconds"] == 86400


def test_no_well_known_for_ip_literals_and_explicit_ports():
    for case_id in ("syn-ipv4-literal-no-port", "spec-explicit-port-no-wellknown-even-if-present"):
        result, transport = _resolve(_case(case_id), (True, None))
        assert result["cache_seconds"] is None
        assert not transport.http_calls
        assert not [entry for entry in transport.log if entry.startswith("SRV")]


# --- SRV -----------------------------------------------------------------------------------

SRV_CASES = {case["id"]: case for case in CORPUS if case["category"] == "srv"}


def _srv_case_as_matrix(case):
    """The corpus SRV case with its service renamed to _matrix-fed._tcp.example.com (no
    well-known), so the engine's SRV step answers it."""
    def rename(mapping):
        return {"_matrix-fed._tcp.example.com" if name == "test_service.example.com" else name:
                value for name, value in mapping.items()}
    dns = {"SRV": rename(case["dns"].get("SRV", {})),
           "SRV_error": rename(case["dns"].get("SRV_error", {})),
           "A": {"example.com": ["42.0.0.10"], "host": ["42.0.0.11"]}}
    return FakeTransport(dns, {})


@pytest.mark.parametrize("case_id", ["srv-resolve-basic", "srv-ignore-non-srv-answers"])
def test_corpus_srv_servers(case_id):
    case = SRV_CASES[case_id]
    discovery = ServerDiscovery(_srv_case_as_matrix(case), rng=FirstChoiceRng())
    result = discovery.resolve("example.com")
    assert result["method"] == "srv"
    assert [(target["host"], target["port"]) for target in result["targets"]] == [
        (server["host"], server["port"]) for server in case["expected"]["servers"]]


def test_corpus_srv_nxdomain_falls_through():
    discovery = ServerDiscovery(_srv_case_as_matrix(SRV_CASES["srv-nxdomain"]))
    result = discovery.resolve("example.com")
    assert result["method"] == "default_port"


@pytest.mark.parametrize("case_id, code", [
    ("srv-dot-target-disabled", "srv_unavailable"),
    ("srv-dns-error-no-cache", "srv_lookup_failed"),
])
@pytest.mark.parametrize("mode", MODES)
def test_corpus_srv_errors(case_id, code, mode):
    transport = _srv_case_as_matrix(SRV_CASES[case_id])
    discovery = ServerDiscovery(transport, parallel=mode[0], speculative=mode[1])
    with pytest.raises(DiscoveryError) as caught:
        discovery.resolve("example.com")
    assert code in [problem["code"] for problem in caught.value.result["problems"]]
    assert caught.value.result["targets"] == []
    if mode[1] is not True:
        assert "SRV _matrix._tcp.example.com" not in transport.log


@pytest.mark.parametrize("case_id", ["srv-stale-cache-on-dns-error", "srv-fresh-cache"])
def test_corpus_srv_cache_cases_are_out_of_scope(case_id):
    assert SRV_CASES[case_id]["category"] == "srv"
    pytest.skip("Synapse's SRV cache across requests; the lookup resolves once and keeps none")


@pytest.mark.parametrize("case_id", ["srv-sort-by-priority", "srv-sort-zero-weight-last"])
@pytest.mark.parametrize("seed", range(20))
def test_corpus_srv_deterministic_order(case_id, seed):
    case = SRV_CASES[case_id]
    records = [SrvRecord(*record) for record in case["dns"]["SRV"]["_matrix-fed._tcp.example.com"]]
    ordered = order_srv_records(records, random.Random(seed))
    assert ["%s:%d" % (record.target, record.port) for record in ordered] == case["expected"]["order"]


def test_corpus_srv_weighted_distribution():
    """Count the first pick over every value randint(1, total) can return: exact odds."""
    case = SRV_CASES["srv-weighted-distribution"]
    records = [SrvRecord(*record) for record in case["dns"]["SRV"]["_matrix-fed._tcp.example.com"]]
    total = sum(record.weight for record in records)
    firsts = {}
    for value in range(1, total + 1):
        first = order_srv_records(records, FirstChoiceRng(value))[0]
        key = "%s:%d" % (first.target, first.port)
        firsts[key] = firsts.get(key, 0) + 1
    assert {key: count / total for key, count in firsts.items()} == \
        case["expected"]["first_choice_probability"]


def test_srv_zero_weights_follow_nonzero_and_are_shuffled():
    records = [SrvRecord(1, 0, 1, "z1"), SrvRecord(1, 0, 2, "z2"), SrvRecord(1, 10, 3, "w")]
    orders = {tuple(record.target for record in order_srv_records(records, random.Random(seed)))
              for seed in range(40)}
    assert orders == {("w", "z1", "z2"), ("w", "z2", "z1")}


def test_every_address_of_every_target_in_preference_order():
    transport = FakeTransport({
        "SRV": {"_matrix-fed._tcp.example.com": [[20, 0, 8448, "backup.example.net."],
                                                 [10, 0, 443, "primary.example.net."]]},
        "AAAA": {"primary.example.net": ["2a01:4f8::1", "2a01:4f8::2"]},
        "A": {"primary.example.net": ["42.0.0.1"], "backup.example.net": ["42.0.0.2", "42.0.0.3"]},
    })
    discovery = ServerDiscovery(transport, rng=FirstChoiceRng())
    result = discovery.resolve("example.com")
    assert result["targets"] == [
        {"host": "primary.example.net", "port": 443, "address": "2a01:4f8::1", "priority": 10},
        {"host": "primary.example.net", "port": 443, "address": "2a01:4f8::2", "priority": 10},
        {"host": "primary.example.net", "port": 443, "address": "42.0.0.1", "priority": 10},
        {"host": "backup.example.net", "port": 8448, "address": "42.0.0.2", "priority": 20},
        {"host": "backup.example.net", "port": 8448, "address": "42.0.0.3", "priority": 20},
    ]
    assert "[2a01:4f8::1] port 443 first" in result["steps"][-1]


@pytest.mark.parametrize("gone_priority, ok_priority, severity", [
    pytest.param(20, 10, "warning", id="backup-target-without-address"),
    pytest.param(10, 10, "warning", id="one-of-two-preferred-targets-without-address"),
    pytest.param(10, 20, "error", id="only-preferred-target-without-address"),
])
def test_srv_target_without_address_is_skipped(gone_priority, ok_priority, severity):
    transport = FakeTransport({
        "SRV": {"_matrix-fed._tcp.example.com": [[gone_priority, 0, 443, "gone.example.net"],
                                                 [ok_priority, 0, 443, "ok.example.net"]]},
        "A": {"ok.example.net": ["42.0.0.1"]},
    })
    discovery = ServerDiscovery(transport)
    result = discovery.resolve("example.com")
    assert [target["host"] for target in result["targets"]] == ["ok.example.net"]
    unresolvable = [problem for problem in result["problems"] if problem["code"] == "target_unresolvable"]
    assert [problem["severity"] for problem in unresolvable] == [severity]
    assert "gone.example.net (port 443) of _matrix-fed._tcp.example.com has no address" in unresolvable[0]["message"]


def test_no_address_for_any_target_is_an_error_with_a_trace():
    transport = FakeTransport({"SRV": {"_matrix-fed._tcp.example.com": [[10, 0, 443, "gone.example.net"]]}})
    discovery = ServerDiscovery(transport)
    with pytest.raises(DiscoveryError) as caught:
        discovery.resolve("example.com")
    assert "has an address" in caught.value.reason
    assert [(problem["code"], problem["severity"]) for problem in caught.value.result["problems"]
            if problem["severity"] == "error"] == [("target_unresolvable", "error")]
    assert caught.value.result["steps"][-1].startswith("Failed: ")
    assert caught.value.result["method"] is None


@pytest.mark.parametrize("server_name", ["example.com", "example.com:8448"])
def test_final_host_without_address_is_an_error(server_name):
    discovery = ServerDiscovery(FakeTransport({}))
    with pytest.raises(DiscoveryError) as caught:
        discovery.resolve(server_name)
    assert caught.value.reason.startswith("example.com has no address")
    assert "no_address" in [problem["code"] for problem in caught.value.result["problems"]]


@pytest.mark.parametrize("mode", MODES)
def test_legacy_srv_failure_after_empty_matrix_fed_is_an_error(mode):
    transport = FakeTransport({"SRV_error": {"_matrix._tcp.example.com": "TIMEOUT"},
                               "A": {"example.com": ["42.0.0.10"]}})
    discovery = ServerDiscovery(transport, parallel=mode[0], speculative=mode[1])
    with pytest.raises(DiscoveryError) as caught:
        discovery.resolve("example.com")
    assert "_matrix._tcp.example.com failed with TIMEOUT" in caught.value.reason


def test_address_lookup_failure_of_one_family_is_a_warning():
    transport = FakeTransport({"A": {"example.com": ["42.0.0.10"]},
                               "AAAA_error": {"example.com": "SERVFAIL"}})
    discovery = ServerDiscovery(transport)
    result = discovery.resolve("example.com:8448")
    assert [target["address"] for target in result["targets"]] == ["42.0.0.10"]
    assert "address_dns_error" in [problem["code"] for problem in result["problems"]]


def test_case_of_the_server_name_is_kept_for_host_but_not_for_lookups():
    transport = FakeTransport({"A": {"example.com": ["42.0.0.10"]}})
    discovery = ServerDiscovery(transport, parallel=False)
    result = discovery.resolve("Example.COM")
    assert result["host_header"] == "Example.COM"
    assert (result["sni"], result["tls_server_name"]) == ("example.com", "example.com")
    assert "SRV _matrix-fed._tcp.example.com" in transport.log
    assert "server_name_uppercase" in [problem["code"] for problem in result["problems"]]


def test_steps_say_what_was_looked_up_and_which_address_is_used():
    result, dummy = _resolve(_case("syn-wellknown-then-srv-matrix-fed"), (False, None))
    steps = "\n".join(result["steps"])
    assert "GET https://testserv/.well-known/matrix/server via 1.2.3.4 port 443" in steps
    assert "m.server is 'target-server'" in steps
    assert "Step 3.3: SRV _matrix-fed._tcp.target-server -> 0 0 8443 srvtarget." in steps
    assert result["steps"][-1].startswith("Connect to 5.6.7.8 port 8443 first")
    assert "Send Host: target-server, SNI: target-server" in result["steps"][-1]


def test_invalid_server_name_is_a_discovery_error():
    discovery = ServerDiscovery(FakeTransport({}))
    with pytest.raises(DiscoveryError) as caught:
        discovery.resolve("https://example.com")
    assert caught.value.server_name == "https://example.com"
    assert caught.value.reason.startswith('"https://example.com" is not a valid server name')


# --- many names and concurrency ------------------------------------------------------------

def _many_names_transport():
    return FakeTransport({"A": {"a.example": ["42.0.0.1"], "b.example": ["42.0.0.2"]}})


@pytest.mark.parametrize("concurrency", [None, 1, 2])
def test_resolve_many_keeps_order_and_returns_errors(concurrency):
    names = ["a.example:8448", "bad_name", "b.example:8448", "missing.example:8448"]
    discovery = ServerDiscovery(_many_names_transport())
    results = discovery.resolve_many(names, concurrency=concurrency)
    assert [target["address"] for target in results[0]["targets"]] == ["42.0.0.1"]
    assert isinstance(results[1], DiscoveryError) and results[1].server_name == "bad_name"
    assert [target["address"] for target in results[2]["targets"]] == ["42.0.0.2"]
    assert isinstance(results[3], DiscoveryError)
    assert discovery.resolve_many([]) == []


class _RendezvousTransport(FakeTransport):
    """Holds chosen calls (coroutines on the engine's loop) until ``parties`` of them are in
    flight at once. If the engine ran them one after another, that number would never be
    reached: the call fails after a generous timeout that only prevents a hang."""

    def __init__(self, dns, responses, parties, methods):
        super().__init__(dns, responses)
        self.parties, self.methods, self.arrived = parties, methods, 0

    async def _meet(self, method):
        if method not in self.methods:
            return
        self.arrived += 1
        give_up = time.monotonic() + 20
        while self.arrived < self.parties:
            assert time.monotonic() < give_up, "only %d of %d calls in flight at once" % (self.arrived, self.parties)
            await _loop.sleep(0.001)

    async def aquery_srv(self, name):
        await self._meet("query_srv")
        return super().query_srv(name)

    async def aquery_address(self, host, family):
        await self._meet("query_address")
        return super().query_address(host, family)

    async def ahttps_get(self, *args, **kwargs):
        await self._meet("https_get")
        return super().https_get(*args, **kwargs)


def test_names_resolve_concurrently():
    names = ["n%d.example:8448" % number for number in range(40)]
    dns = {"A": {name.split(":")[0]: ["42.0.1.%d" % number] for number, name in enumerate(names)}}
    # Every name's AAAA and A query meet: 80 queries in flight at once.
    transport = _RendezvousTransport(dns, {}, 80, {"query_address"})
    discovery = ServerDiscovery(transport)
    results = discovery.resolve_many(names)
    assert [result["targets"][0]["address"] for result in results] == [
        "42.0.1.%d" % number for number in range(40)]


def test_srv_names_are_queried_while_the_well_known_is_fetched():
    case = _case("syn-srv-legacy-on-original")
    dns = dict(case["dns"], A={"srvtarget": ["1.2.3.4"], "testserv": ["1.2.3.9"]})
    transport = _RendezvousTransport(dns, {}, 3, {"query_srv", "https_get"})
    discovery = ServerDiscovery(transport)
    result = discovery.resolve("testserv")
    assert result["method"] == "srv_legacy"
    assert result["targets"][0]["address"] == "1.2.3.4"


@pytest.mark.parametrize("count, speculated", [(SPECULATION_MAX_NAMES, True),
                                               (SPECULATION_MAX_NAMES + 1, False)])
def test_speculative_srv_queries_only_for_few_names(count, speculated):
    """With a valid well-known the hostname's SRV records are not needed: they are queried
    ahead only while few names resolve at once."""
    names = ["n%d.example" % number for number in range(count)]
    dns = {"A": {name: ["42.0.2.%d" % number] for number, name in enumerate(names)}}
    dns["A"]["matrix.example.net"] = ["42.0.0.20"]
    responses = {"https://%s/.well-known/matrix/server" % name: {
        "status": 200, "headers": {}, "body": '{"m.server": "matrix.example.net:443"}'}
        for name in names}
    transport = FakeTransport(dns, responses)
    discovery = ServerDiscovery(transport)
    results = discovery.resolve_many(names)
    assert {result["method"] for result in results} == {"well_known_explicit_port"}
    assert ("SRV _matrix-fed._tcp.n0.example" in transport.log) is speculated


def test_well_known_redirected_into_an_internal_address_falls_back_with_a_warning():
    transport = FakeTransport(
        {"A": {"example.com": ["42.0.0.10"]}},
        {"https://example.com/.well-known/matrix/server": {
            "status": 302, "headers": {"Location": "https://127.0.0.1/.well-known/matrix/server"}, "body": ""},
         "https://127.0.0.1/.well-known/matrix/server": {"status": 200, "body": '{"m.server": "internal.test"}'}})
    discovery = ServerDiscovery(transport, parallel=False)
    result = discovery.resolve("example.com")
    assert result["method"] == "default_port"
    assert result["delegated_server"] is None
    assert result["targets"] == [{"host": "example.com", "port": 8448, "address": "42.0.0.10", "priority": None}]
    problem = [p for p in result["problems"] if p["code"] == "redirect_to_internal_address"]
    assert len(problem) == 1 and problem[0]["severity"] == "warning"
    assert result["well_known_error"].startswith("redirect_to_internal_address: ")
    assert "GET https://127.0.0.1/.well-known/matrix/server" not in transport.log
