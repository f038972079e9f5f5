# Copyright (c) 2026, homeserver.delegation developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The modules' argument handling, as Ansible runs them: bad input fails with a message that
names the argument and the problem, before anything touches the network; secrets stay out of
the result."""

from __future__ import annotations

import json

import pytest

CONNECTION_CASES = [
    ({"nameservers": ["dns.example"]}, "nameservers: 'dns.example' is not an IP address"),
    ({"dns_port": 0}, "dns_port: 0 is not a port number 1-65535"),
    ({"timeout": 0}, "timeout: 0.0 is not a positive number of seconds"),
    ({"ca_path": "/nonexistent/ca.pem"}, "ca_path: /nonexistent/ca.pem does not exist"),
]
TSIG = {"server": "127.0.0.1", "zone": "example.org", "key_name": "delegation", "key_secret": "c2VjcmV0IQ=="}
TARGET = [{"target": "matrix.example.org", "port": 8448}]

CASES = [
    ("federation_check", {}, "missing required arguments: server_names"),
    ("federation_check", {"server_names": []}, "server_names: give at least one server name"),
    ("federation_check", {"server_names": ["example.org"], "concurrency": 0}, "concurrency: 0 is not a positive number"),
    ("federation_check", {"server_names": ["example.org"], "name_timeout": -1},
     "name_timeout: -1.0 is not a positive number of seconds"),
    ("federation_check", {"server_names": ["example.org"], "fail_on_eror": False}, "Unsupported parameters"),
    ("well_known_info", {}, "missing required arguments: server_name"),
    ("well_known_info", {"server_name": "example.org", "documents": ["server", "clients"]},
     "documents must be one or more of: server, client. Got no match for: clients"),
    ("well_known_info", {"server_name": "[2001:db8::1]"},
     "[2001:db8::1] is an IP literal: well-known documents are only looked up for DNS names"),
    ("well_known_info", {"server_name": "https://example.org"}, "https://example.org"),
    ("srv_info", {}, "missing required arguments: name"),
    ("srv_info", {"name": "192.0.2.1"}, "192.0.2.1 is an IP literal: SRV records are never looked up for it"),
    ("srv_info", {"name": "example.org:8448"}, "example.org:8448 has an explicit port"),
    ("srv_info", {"name": "example.org", "expected_port": 70000}, "expected_port: 70000 is not a port number 1-65535"),
    ("srv_record", dict(TSIG, server_name="example.org:8448", targets=TARGET),
     "server_name 'example.org:8448' has an explicit port"),
    ("srv_record", dict(TSIG, server_name="example.org", targets=[{"target": "matrix.example.org", "port": 0}]),
     "targets[0].port is 0: it must be between 1 and 65535"),
    ("srv_record", dict(TSIG, server_name="example.org", targets=[]), "targets is empty"),
    ("srv_record", dict(TSIG, server_name="example.org", targets=TARGET, key_secret="not base64!"),
     "key_secret for TSIG key 'delegation' is not valid base64"),
]
CASES += [(module, dict(args, **options), message)
          for module, args in (("federation_check", {"server_names": ["example.org"]}),
                               ("well_known_info", {"server_name": "example.org"}),
                               ("srv_info", {"name": "example.org"}))
          for options, message in CONNECTION_CASES]


def _case_id(case):
    module, message = case[0], case[2]
    return "%s-%s" % (module, message.split(":")[0].split(" ")[0] if ":" in message else message[:30])


@pytest.mark.parametrize("module, args, message", CASES, ids=[_case_id(case) for case in CASES])
def test_bad_arguments_fail_with_a_message_naming_them(run_module, module, args, message):
    returncode, result = run_module(module, args)
    assert returncode == 1 and result["failed"] is True, result
    assert message in result["msg"]
    assert "Traceback" not in result["msg"]
    assert result.get("changed") in (None, False)


def test_an_invalid_server_name_is_reported_per_name_without_a_lookup(run_module):
    # No DNS server can answer on this port: the name is refused before any query.
    returncode, result = run_module("federation_check", {"server_names": ["https://example.org"], "dns_port": 9,
                                                         "nameservers": ["127.0.0.1"], "timeout": 0.5})
    assert returncode == 1 and result["federation_ok"] is False
    report = result["servers"]["https://example.org"]
    assert [problem["code"] for problem in report["problems"]] == ["invalid_server_name"]
    assert result["msg"] == "https://example.org: federation FAILS: invalid_server_name"


def test_srv_record_never_shows_the_key_secret(run_module):
    secret = "bm90IHRvIGJlIHNob3du"
    returncode, result = run_module("srv_record", dict(TSIG, key_secret=secret, server_name="example.org:8448",
                                                       targets=TARGET))
    assert returncode == 1
    assert secret not in json.dumps(result)
