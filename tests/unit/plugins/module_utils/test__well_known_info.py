# Copyright (c) 2026, homeserver.delegation developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""well_known_info: every problem code of both documents, and correct documents with none."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.homeserver.delegation.plugins.module_utils._well_known_info import well_known_info
from ansible_collections.homeserver.delegation.tests.unit.fake_federation import NOW, FakeFederationTransport

SERVER_URL = "https://example.org/.well-known/matrix/server"
CLIENT_URL = "https://example.org/.well-known/matrix/client"
VERSIONS_URL = "https://matrix.example.org/_matrix/client/versions"
DNS = {"A": {"example.org": ["42.0.0.10"], "matrix.example.org": ["42.0.0.20"], "other.example.org": ["42.0.0.30"]}}
JSON_HEADERS = {"Content-Type": "application/json", "Cache-Control": "max-age=14400"}
# The CORS headers the specification recommends.
SPEC_CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "GET, POST, PUT, DELETE, OPTIONS",
             "Access-Control-Allow-Headers": "X-Requested-With, Content-Type, Authorization"}
CORS_HEADERS = dict(JSON_HEADERS, **SPEC_CORS)
GOOD_SERVER = {"status": 200, "body": '{"m.server": "matrix.example.org:443"}', "headers": JSON_HEADERS}
GOOD_CLIENT = {"status": 200, "body": '{"m.homeserver": {"base_url": "https://matrix.example.org"}}',
               "headers": CORS_HEADERS}
GOOD_VERSIONS = {"status": 200, "body": '{"versions": ["v1.11", "v1.12"]}', "headers": CORS_HEADERS}
# The OPTIONS preflight a browser sends before a GET with a header that is not safelisted.
PREFLIGHT = "OPTIONS " + CLIENT_URL
GOOD_PREFLIGHT = {"status": 204, "body": "", "headers": SPEC_CORS}


def run(responses=None, dns=None, documents=("server", "client"), **kwargs):
    merged = {SERVER_URL: GOOD_SERVER, CLIENT_URL: GOOD_CLIENT, VERSIONS_URL: GOOD_VERSIONS, PREFLIGHT: GOOD_PREFLIGHT}
    merged.update(responses or {})
    merged = dict((url, spec) for url, spec in merged.items() if spec is not None)
    transport = FakeFederationTransport(dns or DNS, merged, address_responses=kwargs.pop("address_responses", None))
    report = well_known_info(transport, "example.org", documents, now=NOW.timestamp(), **kwargs)
    report["http_calls"] = transport.http_calls
    return report


def codes(report):
    return sorted(problem["code"] for problem in report["problems"])


def test_correct_documents_have_no_problem():
    result = run(expected_server="matrix.example.org:443", expected_base_url="https://matrix.example.org/")
    assert result["problems"] == []
    server, client = result["server"], result["client"]
    assert server["valid"] and server["delegated_server"] == "matrix.example.org:443"
    assert server["content"] == {"m.server": "matrix.example.org:443"}
    assert server["status"] == 200 and server["content_type"] == "application/json"
    assert server["cache_seconds"] == 14400 and server["cache_period_header"] == 14400
    assert [entry["address"] for entry in server["addresses"]] == ["42.0.0.10"]
    assert client["valid"] and client["base_url"] == "https://matrix.example.org"
    assert client["cors"] == "*"
    assert client["versions"] == {"url": VERSIONS_URL, "status": 200, "versions": ["v1.11", "v1.12"]}


def server_response(status=200, body='{"m.server": "matrix.example.org:443"}', headers=None):
    return {SERVER_URL: {"status": status, "body": body, "headers": JSON_HEADERS if headers is None else headers}}


HTML = "<html><head><title>Welcome</title></head><body>It works</body></html>"


@pytest.mark.parametrize("responses, expected", [
    pytest.param(server_response(404, "not found"), "not_found", id="not_found"),
    pytest.param(server_response(502, "bad gateway"), "http_error", id="http_error"),
    pytest.param(server_response(body=HTML, headers={"Content-Type": "text/html"}), "not_json", id="not_json-html"),
    pytest.param(server_response(body='["matrix.example.org"]'), "not_object", id="not_object"),
    pytest.param(server_response(body='{"m.homeserver": "x"}'), "missing_m_server", id="missing_m_server"),
    pytest.param(server_response(body='{"m.server": "https://matrix.example.org"}'), "invalid_m_server",
                 id="invalid_m_server"),
    pytest.param(server_response(body='{"m.server": "' + "a" * 60000 + '"}'), "too_large", id="too_large"),
    pytest.param({SERVER_URL: {"status": 301, "headers": {"Location": "https://other.example.org/wk"}},
                  "https://other.example.org/wk": {"status": 302, "headers": {"Location": SERVER_URL}}},
                 "redirect_loop", id="redirect_loop"),
    pytest.param({SERVER_URL: {"status": 301, "headers": {"Location": "http://other.example.org/wk"}}},
                 "insecure_redirect", id="insecure_redirect"),
    pytest.param({SERVER_URL: {"status": None, "fetch_error": "tls_verification_failed certificate is for another name"}}, "tls_invalid",
                 id="tls_invalid"),
    pytest.param({SERVER_URL: {"status": None, "fetch_error": "timeout after 10 s"}}, "timeout", id="timeout"),
    pytest.param({SERVER_URL: None}, "unreachable", id="unreachable"),
    pytest.param(server_response(headers={"Content-Type": "text/plain"}), "wrong_content_type", id="wrong_content_type"),
    pytest.param(server_response(headers={"Content-Type": "application/json", "Cache-Control": "max-age=60"}),
                 "cache_period", id="cache_period-short"),
    pytest.param(server_response(headers={"Content-Type": "application/json", "Cache-Control": "max-age=604800"}),
                 "cache_period", id="cache_period-long"),
])
def test_each_server_document_problem(responses, expected):
    report = run(responses, documents=("server",))
    assert codes(report) == [expected]
    severity = report["problems"][0]["severity"]
    assert severity == ("warning" if expected in ("wrong_content_type", "cache_period") else "error")
    assert report["server"]["valid"] is (expected in ("wrong_content_type", "cache_period"))


def test_a_valid_document_reached_through_a_redirect_has_no_problem():
    responses = {SERVER_URL: {"status": 301, "headers": {"Location": "https://other.example.org/wk"}},
                 "https://other.example.org/wk": GOOD_SERVER}
    report = run(responses, documents=("server",))
    assert codes(report) == []
    assert report["server"]["redirects"][0]["status"] == 301
    assert report["server"]["final_url"] == "https://other.example.org/wk"


def test_mismatch_with_expected_server():
    report = run(documents=("server",), expected_server="matrix.example.org:8448")
    assert codes(report) == ["mismatch"]
    assert "matrix.example.org:443" in report["problems"][0]["message"]


TWO_ADDRESSES = {"A": dict(DNS["A"], **{"example.org": ["42.0.0.10"]}), "AAAA": {"example.org": ["2a01:4f8::10"]}}


def test_every_address_is_asked_and_a_split_brain_is_inconsistent():
    other = {"status": 200, "body": '{"m.server": "other.example.org:443"}', "headers": JSON_HEADERS}
    report = run(dns=TWO_ADDRESSES, documents=("server",), address_responses={("42.0.0.10", SERVER_URL): other})
    assert [(p["code"], p["severity"]) for p in report["problems"]] == [("inconsistent", "error")]
    message = report["problems"][0]["message"]
    assert "42.0.0.10" in message and "2a01:4f8::10" in message and "other.example.org:443" in message
    assert [entry["address"] for entry in report["server"]["addresses"]] == ["2a01:4f8::10", "42.0.0.10"]


def test_documents_differing_beyond_m_server_are_a_warning():
    extra = {"status": 200, "body": '{"m.server": "matrix.example.org:443", "org.example.note": 1}', "headers": JSON_HEADERS}
    report = run(dns=TWO_ADDRESSES, documents=("server",), address_responses={("42.0.0.10", SERVER_URL): extra})
    assert [(p["code"], p["severity"]) for p in report["problems"]] == [("inconsistent", "warning")]


def test_same_answer_from_every_address_is_consistent():
    report = run(dns=TWO_ADDRESSES, documents=("server",))
    assert codes(report) == []
    assert all(entry["valid"] for entry in report["server"]["addresses"])


def test_one_dead_address_is_reported_with_its_address():
    dead = {"status": None, "fetch_error": "unreachable connection refused"}
    report = run(dns=TWO_ADDRESSES, documents=("server",), address_responses={("2a01:4f8::10", SERVER_URL): dead})
    assert codes(report) == ["unreachable"]
    assert "2a01:4f8::10" in report["problems"][0]["message"]
    # The document itself came from the address that answered.
    assert report["server"]["valid"]


def client_response(status=200, body=GOOD_CLIENT["body"], headers=None):
    return {CLIENT_URL: {"status": status, "body": body, "headers": CORS_HEADERS if headers is None else headers}}


@pytest.mark.parametrize("responses, expected", [
    pytest.param(client_response(headers=JSON_HEADERS), "missing_cors", id="missing_cors"),
    pytest.param({CLIENT_URL: {"status": 301, "headers": {"Location": "https://other.example.org/c"}},
                  "https://other.example.org/c": GOOD_CLIENT}, "missing_cors", id="missing_cors-on-redirect"),
    pytest.param(client_response(404, "{}"), "not_found", id="not_found"),
    pytest.param(client_response(500, "oops"), "http_error", id="http_error"),
    pytest.param(client_response(body=HTML), "not_json", id="not_json"),
    pytest.param(client_response(body="[]"), "not_object", id="not_object"),
    pytest.param(client_response(body='{"m.homeserver": {}}'), "missing_base_url", id="missing_base_url"),
    pytest.param(client_response(body='{"m.homeserver": {"base_url": "matrix.example.org"}}'), "invalid_base_url",
                 id="invalid_base_url"),
    pytest.param({VERSIONS_URL: {"status": 404, "body": "{}", "headers": CORS_HEADERS}}, "client_versions_failed",
                 id="client_versions_failed"),
    pytest.param(client_response(headers=dict(SPEC_CORS, **{"Content-Type": "text/plain"})),
                 "wrong_content_type", id="wrong_content_type"),
    pytest.param({CLIENT_URL: {"status": 301, "headers": dict(SPEC_CORS, Location="http://other.example.org/c")}},
                 "insecure_redirect", id="insecure_redirect"),
    pytest.param({CLIENT_URL: {"status": 301, "headers": dict(SPEC_CORS, Location="/c")},
                  "https://example.org/c": {"status": 302, "headers": dict(SPEC_CORS, Location=CLIENT_URL)}},
                 "redirect_loop", id="redirect_loop"),
    pytest.param(dict([(CLIENT_URL, {"status": 301, "headers": dict(SPEC_CORS, Location="/hop1")})]
                      + [("https://example.org/hop%d" % hop,
                          {"status": 302, "headers": dict(SPEC_CORS, Location="/hop%d" % (hop + 1))})
                         for hop in range(1, 12)]),
                 "too_many_redirects", id="too_many_redirects-eleven-hops"),
])
def test_each_client_document_problem(responses, expected):
    report = run(responses, documents=("client",))
    assert codes(report) == [expected]
    assert report["problems"][0]["severity"] == ("warning" if expected == "wrong_content_type" else "error")


@pytest.mark.parametrize("hops, expected", [
    pytest.param(10, None, id="ten-redirects-are-followed"),
    pytest.param(11, "too_many_redirects", id="eleven-are-too-many"),
])
def test_both_documents_follow_redirects_by_the_same_rules(hops, expected):
    """The server and the client document go through one redirect-following fetch."""
    responses = {}
    for url, body in ((SERVER_URL, GOOD_SERVER), (CLIENT_URL, GOOD_CLIENT)):
        chain = [url] + ["%s/hop%d" % (url, hop) for hop in range(1, hops + 1)]
        for current, following in zip(chain, chain[1:]):
            responses[current] = {"status": 307, "headers": dict(SPEC_CORS, Location=following)}
        responses[chain[-1]] = body
    report = run(responses)
    for name in ("server", "client"):
        document = report[name]
        assert len(document["redirects"]) == min(hops, 11)
        document_codes = sorted(p["code"] for p in document["problems"] if p["severity"] == "error")
        assert document_codes == ([] if expected is None else [expected]), name
    if expected:
        messages = [p["message"] for p in report["problems"] if p["code"] == expected]
        assert [message.split(": ", 1)[1].split(" starting at ")[0] for message in messages] == [
            "more than 10 redirects"] * 2


def test_client_base_url_mismatch():
    report = run(documents=("client",), expected_base_url="https://other.example.org")
    assert codes(report) == ["mismatch"]
    assert report["client"]["valid"] is False


def test_only_the_documents_asked_for_are_fetched():
    report = run(documents=("client",))
    assert report["server"] is None and report["client"] is not None


def test_invalid_server_name_is_refused():
    with pytest.raises(ValueError, match="not a valid server name"):
        well_known_info(FakeFederationTransport(DNS, {}), "https://example.org")


def test_problem_messages_name_the_document():
    report = run(server_response(404, "nope"))
    assert report["problems"][0]["message"].startswith("server document: ")
    assert json.dumps(report)  # the whole report is JSON-serialisable for the module's return


def test_an_error_page_without_cors_is_only_its_status():
    report = run(client_response(404, "<html>404</html>", headers={"Content-Type": "text/html"}), documents=("client",))
    assert codes(report) == ["not_found"]


# --- hostile documents: bounded JSON, internal redirects ----------------------------------

DEEP = "[" * 10000 + "]" * 10000


@pytest.mark.parametrize("body, detail", [
    pytest.param('{"m.homeserver": ' + DEEP + "}", "the body is JSON nested more than 64 levels deep; no Matrix document nests that deep",
                 id="nested-10000-deep"),
    pytest.param('{"m.homeserver": {"base_url": "https://matrix.example.org"}, "x": NaN}', "NaN is not valid JSON",
                 id="NaN"),
    pytest.param('{"m.homeserver": {"base_url": "https://matrix.example.org"}, "x": Infinity}',
                 "Infinity is not valid JSON", id="Infinity"),
    pytest.param('{"m.homeserver": {"base_url": "https://matrix.example.org"}, "x": -Infinity}',
                 "-Infinity is not valid JSON", id="minus-Infinity"),
])
def test_a_client_document_that_is_not_valid_json_is_not_json(body, detail):
    result = run({CLIENT_URL: dict(GOOD_CLIENT, body=body)}, documents=("client",))
    client = result["client"]
    assert codes(client) == ["not_json"]
    assert client["valid"] is False and client["content"] is None and client["versions"] is None
    assert client["problems"][0]["message"] == CLIENT_URL + " is not JSON: " + detail


def test_a_server_document_nested_10000_deep_is_not_json():
    result = run({SERVER_URL: dict(GOOD_SERVER, body=DEEP)}, documents=("server",))
    assert codes(result["server"]) == ["not_json"]
    assert "nested more than 64 levels deep" in result["server"]["problems"][0]["message"]


@pytest.mark.parametrize("body, detail", [
    pytest.param('{"versions": ' + DEEP + "}", "nested more than 64 levels deep", id="nested-10000-deep"),
    pytest.param('{"versions": ["v1.11"], "unstable_features": {"x": NaN}}', "NaN is not valid JSON", id="NaN"),
])
def test_a_versions_answer_that_is_not_valid_json_fails_the_versions_check(body, detail):
    result = run({VERSIONS_URL: dict(GOOD_VERSIONS, body=body)}, documents=("client",))
    client = result["client"]
    assert codes(client) == ["client_versions_failed"]
    assert detail in client["problems"][0]["message"]
    assert client["valid"] is False


INTERNAL_DNS = {"A": dict(DNS["A"], **{"intranet.example.org": ["10.20.30.40"], "mixed.example.org": ["42.0.0.50"],
                                       "lab.example.org": ["192.168.1.10"]}),
                "AAAA": {"mixed.example.org": ["fd00::50"]}}
INTERNAL_TARGETS = ["https://127.0.0.1/wk", "https://[::1]/wk", "https://[::ffff:127.0.0.1]/wk",
                    "https://169.254.169.254/latest", "https://100.64.0.1/wk", "https://intranet.example.org/wk",
                    "https://mixed.example.org/wk"]


def internal_run(url, target, allow=None, dns=None, documents=("server", "client")):
    other_document = {"status": 200, "headers": CORS_HEADERS,
                      "body": '{"m.server": "internal.example.org:443", '
                              '"m.homeserver": {"base_url": "https://matrix.example.org"}}'}
    responses = {url: {"status": 302, "headers": {"Location": target, "Access-Control-Allow-Origin": "*"}},
                 target: other_document}
    host = target.split("/")[2]
    responses["https://%s/%s" % (host, target.split("/", 3)[3])] = other_document
    merged = {SERVER_URL: GOOD_SERVER, CLIENT_URL: GOOD_CLIENT, VERSIONS_URL: GOOD_VERSIONS, PREFLIGHT: GOOD_PREFLIGHT}
    merged.update(responses)
    transport = FakeFederationTransport(dns or INTERNAL_DNS, merged)
    if allow is not None:
        transport.allow_internal_redirects = allow
    result = well_known_info(transport, "example.org", documents, now=NOW.timestamp())
    return result, transport


@pytest.mark.parametrize("target", INTERNAL_TARGETS)
def test_a_server_document_redirected_to_an_internal_address_is_refused_before_connecting(target):
    result, transport = internal_run(SERVER_URL, target, documents=("server",))
    server = result["server"]
    assert codes(server) == ["redirect_to_internal_address"]
    assert server["valid"] is False and server["delegated_server"] is None
    assert "example.org resolves to public addresses" in server["problems"][0]["message"]
    assert [call["url"] for call in transport.http_calls] == [SERVER_URL]


@pytest.mark.parametrize("target", INTERNAL_TARGETS)
def test_a_client_document_redirected_to_an_internal_address_is_refused_before_connecting(target):
    result, transport = internal_run(CLIENT_URL, target, documents=("client",))
    client = result["client"]
    assert codes(client) == ["redirect_to_internal_address"]
    assert client["valid"] is False and client["base_url"] is None
    assert [call["url"] for call in transport.http_calls] == [CLIENT_URL]


@pytest.mark.parametrize("url", [SERVER_URL, CLIENT_URL])
def test_allow_internal_redirects_follows_the_redirect(url):
    result, transport = internal_run(url, "https://127.0.0.1/wk", allow=True)
    assert result["problems"] == []
    assert any(call["address"] == "127.0.0.1" for call in transport.http_calls)
    if url == SERVER_URL:
        assert result["server"]["delegated_server"] == "internal.example.org:443"


def test_a_name_that_resolves_internally_may_redirect_to_internal_addresses():
    dns = {"A": dict(DNS["A"], **{"example.org": ["192.168.1.5"], "intranet.example.org": ["10.20.30.40"]})}
    result, dummy = internal_run(SERVER_URL, "https://intranet.example.org/wk", dns=dns, documents=("server",))
    assert result["server"]["problems"] == []
    assert result["server"]["delegated_server"] == "internal.example.org:443"


@pytest.mark.parametrize("url", [SERVER_URL, CLIENT_URL])
def test_a_redirect_to_plain_http_is_refused_even_when_internal_redirects_are_allowed(url):
    result, transport = internal_run(url, "http://matrix.example.org/wk", allow=True)
    document = result["server" if url == SERVER_URL else "client"]
    assert codes(document) == ["insecure_redirect"]
    assert not any(call["url"].startswith("https://matrix.example.org/wk") for call in transport.http_calls)


# CORS as a browser meets it (_cors.py): the preflight and the headers the specification asks for.

def preflight_response(status=204, headers=None):
    return {PREFLIGHT: {"status": status, "body": "", "headers": SPEC_CORS if headers is None else headers}}


NGINX_405 = {"status": 405, "body": "<html>405 Not Allowed</html>", "headers": {"Content-Type": "text/html"}}
SYNAPSE_CORS = {"Access-Control-Allow-Origin": "*",
                "Access-Control-Allow-Methods": "GET, HEAD, POST, PUT, DELETE, OPTIONS",
                "Access-Control-Allow-Headers": "X-Requested-With, Content-Type, Authorization, Date"}


def test_the_preflight_is_sent_as_a_browser_sends_it():
    report = run(documents=("client",))
    [call] = [call for call in report["http_calls"] if call["method"] == "OPTIONS"]
    assert call["url"] == CLIENT_URL and call["address"] == "42.0.0.10" and call["sni"] == "example.org"
    assert call["extra_headers"]["Access-Control-Request-Method"] == "GET"
    assert call["extra_headers"]["Access-Control-Request-Headers"] == "x-requested-with"
    assert call["extra_headers"]["Origin"].startswith("https://")
    assert report["client"]["preflight"] == {
        "url": CLIENT_URL, "origin": call["extra_headers"]["Origin"], "status": 204, "allow_origin": "*",
        "allow_methods": SPEC_CORS["Access-Control-Allow-Methods"],
        "allow_headers": SPEC_CORS["Access-Control-Allow-Headers"], "error": None}


@pytest.mark.parametrize("responses, expected, words", [
    pytest.param({PREFLIGHT: NGINX_405}, "preflight_failed", ["HTTP 405", "204"], id="preflight_failed-405"),
    pytest.param({PREFLIGHT: None}, "preflight_failed", ["got no answer", "unreachable"], id="preflight_failed-no-answer"),
    pytest.param(preflight_response(301, dict(SPEC_CORS, Location="https://other.example.org/c")), "preflight_failed",
                 ["HTTP 301", "redirect"], id="preflight_failed-redirect"),
    pytest.param(preflight_response(headers={"Allow": "GET, HEAD, OPTIONS"}), "preflight_missing_cors",
                 ["Access-Control-Allow-Origin is missing"], id="preflight_missing_cors-none"),
    pytest.param(preflight_response(headers=dict(SPEC_CORS, **{"Access-Control-Allow-Headers": "Content-Type"})),
                 "preflight_missing_cors", ["does not allow X-Requested-With"], id="preflight_missing_cors-header"),
    pytest.param(preflight_response(headers=dict(SPEC_CORS, **{"Access-Control-Allow-Origin": "https://element.example"})),
                 "preflight_missing_cors", ["'https://element.example'"], id="preflight_missing_cors-other-origin"),
    pytest.param(preflight_response(headers=list(SPEC_CORS.items()) + [("Access-Control-Allow-Origin", "*")]),
                 "preflight_missing_cors", ["several values"], id="preflight_missing_cors-twice"),
    pytest.param(preflight_response(headers={"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Headers": "*"}),
                 "incomplete_cors", ["preflight", "Access-Control-Allow-Methods is missing"], id="incomplete_cors-preflight"),
    pytest.param(client_response(headers=dict(JSON_HEADERS, **{"Access-Control-Allow-Origin": "*"})), "incomplete_cors",
                 ["Access-Control-Allow-Methods is missing", "Access-Control-Allow-Headers is missing"],
                 id="incomplete_cors-origin-only"),
    pytest.param(client_response(headers=dict(CORS_HEADERS, **{"Access-Control-Allow-Methods": "GET, POST"})),
                 "incomplete_cors", ["lacks PUT, DELETE, OPTIONS"], id="incomplete_cors-methods"),
])
def test_each_cors_warning(responses, expected, words):
    report = run(responses, documents=("client",))
    assert [(problem["code"], problem["severity"]) for problem in report["problems"]] == [(expected, "warning")]
    assert all(word in report["problems"][0]["message"] for word in words), report["problems"][0]["message"]
    # Warnings: the document itself still works for clients that send no preflight.
    assert report["client"]["valid"] and report["client"]["base_url"] == "https://matrix.example.org"


def test_a_preflight_answered_with_200_is_enough():
    assert codes(run(preflight_response(200), documents=("client",))) == []


def test_synapse_cors_headers_have_no_problem():
    synapse = dict(JSON_HEADERS, **SYNAPSE_CORS)
    report = run({CLIENT_URL: dict(GOOD_CLIENT, headers=synapse), PREFLIGHT: {"status": 204, "headers": SYNAPSE_CORS}},
                 documents=("client",))
    assert codes(report) == []


def test_wildcards_allow_every_method_and_header():
    wildcard = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "*", "Access-Control-Allow-Headers": "*"}
    report = run({CLIENT_URL: dict(GOOD_CLIENT, headers=dict(JSON_HEADERS, **wildcard)),
                  PREFLIGHT: {"status": 204, "headers": wildcard}}, documents=("client",))
    assert codes(report) == []


def test_two_allow_origin_headers_are_an_error():
    headers = list(CORS_HEADERS.items()) + [("Access-Control-Allow-Origin", "*")]
    report = run(client_response(headers=headers), documents=("client",))
    assert [(problem["code"], problem["severity"]) for problem in report["problems"]] == [("duplicate_cors", "error")]
    assert "browsers refuse more than one value" in report["problems"][0]["message"]
    assert report["client"]["valid"] is False


def test_no_preflight_is_sent_for_a_missing_document():
    report = run(client_response(404, "{}"), documents=("client",))
    assert codes(report) == ["not_found"]
    assert [call["method"] for call in report["http_calls"]] == ["GET"]
    assert report["client"]["preflight"] is None


def test_every_new_cors_code_has_a_troubleshooting_section():
    path = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "docs", "troubleshooting.md")
    with open(path, encoding="utf-8") as handle:
        sections = set(line[4:].strip() for line in handle if line.startswith("### "))
    assert {"missing_cors", "duplicate_cors", "incomplete_cors", "preflight_failed", "preflight_missing_cors"} <= sections
