# Copyright (c) 2026, homeserver.delegation developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The verification report built from real module results of a fake network."""

from __future__ import annotations

import json

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.homeserver.delegation.plugins.filter.verification_report import verification_report_filter
from ansible_collections.homeserver.delegation.plugins.module_utils._federation import federation_check
from ansible_collections.homeserver.delegation.plugins.module_utils._srv_info import srv_info
from ansible_collections.homeserver.delegation.plugins.module_utils._well_known_info import well_known_info
from ansible_collections.homeserver.delegation.tests.unit.fake_federation import (
    NOW,
    FakeFederationTransport,
    good_target,
)

DNS = {"A": {"good.example": ["42.0.0.1"], "bad.example": ["42.0.0.2"]}}
CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "GET, POST, PUT, DELETE, OPTIONS",
        "Access-Control-Allow-Headers": "X-Requested-With, Content-Type, Authorization"}
RESPONSES = {"https://good.example/.well-known/matrix/server": {"status": 404, "body": "no"},
             "https://bad.example/.well-known/matrix/server": {"status": 404, "body": "no"},
             "https://good.example/.well-known/matrix/client": {
    "status": 200, "body": '{"m.homeserver": {"base_url": "https://good.example:8448"}}',
    "headers": dict(CORS, **{"Content-Type": "application/json"})},
    "OPTIONS https://good.example/.well-known/matrix/client": {"status": 204, "headers": CORS},
    "https://good.example:8448/_matrix/client/versions": {"status": 200, "body": '{"versions": ["v1.11"]}'},
    "https://bad.example/.well-known/matrix/client": {"status": 404, "body": "not here"}}


def results():
    network = FakeFederationTransport(DNS, RESPONSES, targets={("42.0.0.1", 8448): good_target("good.example", "good.example")})
    federation = federation_check(network, ["good.example", "bad.example"], now=NOW)
    clients = [dict(well_known_info(network, name, ("client",)), item=name) for name in ("good.example", "bad.example")]
    srvs = [srv_info(network, name) for name in ("good.example", "bad.example")]
    return federation, clients, srvs


def test_report_data_lines_and_markdown_agree_with_the_results():
    report = verification_report_filter(*results())
    data = report["data"]
    assert data["federation_ok"] is False
    assert data["summary"] == "Federation works for 1 of 2 server names."
    assert data["servers"]["good.example"]["client_well_known"]["base_url"] == "https://good.example:8448"
    bad_codes = [p["code"] for p in data["servers"]["bad.example"]["problems"]]
    assert "connection_failed" in bad_codes
    # A missing client document is optional: a warning in the report.
    assert [p["severity"] for p in data["servers"]["bad.example"]["problems"] if p["code"] == "not_found"] == ["warning"]
    assert report["lines"][0] == data["summary"]
    assert "good.example: federation OK" in report["lines"] and "bad.example: federation FAILS" in report["lines"]
    markdown = report["markdown"]
    assert "| good.example | OK | default_port | - | 1 of 1 | 0 | 0 |" in markdown
    assert "| bad.example | **FAILS** | default_port | - | 0 of 1 | 1 | 1 |" in markdown
    assert "docs/troubleshooting.md#connection_failed" in markdown
    json.dumps(data)


def test_the_same_results_give_the_same_report():
    first, second = verification_report_filter(*results()), verification_report_filter(*results())
    assert first["markdown"] == second["markdown"]


def test_wrong_input_is_a_clear_error():
    with pytest.raises(AnsibleFilterError, match="federation_check"):
        verification_report_filter({"msg": "x"})
    with pytest.raises(AnsibleFilterError, match="client_results must be a list"):
        verification_report_filter({"servers": {}}, "nope")
