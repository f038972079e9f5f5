# Copyright (c) 2026, homeserver.delegation developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Each module needs only its own Python libraries, and names a missing one clearly."""

from __future__ import annotations

import socket

import pytest


@pytest.mark.parametrize("module, args, blocked, library", [
    pytest.param("srv_info", {"name": "example.org"}, ["dns"], "dnspython", id="srv_info-without-dnspython"),
    pytest.param("srv_record", {"server_name": "example.org", "server": "127.0.0.1", "zone": "example.org",
                                "key_name": "k", "key_secret": "c2VjcmV0",
                                "targets": [{"target": "matrix.example.org", "port": 8448}]},
                 ["dns"], "dnspython", id="srv_record-without-dnspython"),
    pytest.param("well_known_info", {"server_name": "example.org"}, ["requests"], "requests",
                 id="well_known_info-without-requests"),
    pytest.param("federation_check", {"server_names": ["example.org"]}, ["requests"], "requests",
                 id="federation_check-without-requests"),
    pytest.param("federation_check", {"server_names": ["example.org"]}, ["cryptography"], "cryptography",
                 id="federation_check-without-cryptography"),
])
def test_a_missing_library_fails_with_its_name(run_module, module, args, blocked, library):
    returncode, result = run_module(module, args, blocked)
    assert returncode == 1 and result["failed"] is True
    assert result["msg"].startswith("Failed to import the required Python library (%s)" % library)
    assert "Traceback" not in result["msg"]


def test_srv_info_works_without_requests(run_module):
    # A DNS server that never answers, on loopback: the module runs and reports the failed
    # lookups instead of failing for want of requests, which it does not need.
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    try:
        returncode, result = run_module("srv_info", {
            "name": "example.org", "nameservers": ["127.0.0.1"], "dns_port": silent.getsockname()[1],
            "timeout": 0.3}, ["requests"])
    finally:
        silent.close()
    assert returncode == 0 and not result.get("failed"), result
    assert [problem["code"] for problem in result["problems"]] == ["srv_lookup_failed", "srv_lookup_failed"]
    assert "TIMEOUT" in result["problems"][0]["message"]
