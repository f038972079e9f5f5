# Copyright (c) 2026, homeserver.delegation developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for the srv_zone_lines filter."""

from __future__ import annotations

import dns.zone
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.homeserver.delegation.plugins.filter.srv_zone_lines import FilterModule

srv_zone_lines = FilterModule().filters()["srv_zone_lines"]


@pytest.mark.parametrize("targets, args, kwargs, lines", [
    ([{"target": "synapse.example.com", "port": 443, "weight": 5}], ("example.com",), {},
     ["_matrix-fed._tcp.example.com. 3600 IN SRV 10 5 443 synapse.example.com."]),
    ([{"target": "m2.example.com.", "port": 8448, "priority": 20},
      {"target": "m1.example.com", "port": 8448}], ("example.com",), {"ttl": 300},
     ["_matrix-fed._tcp.example.com. 300 IN SRV 10 0 8448 m1.example.com.",
      "_matrix-fed._tcp.example.com. 300 IN SRV 20 0 8448 m2.example.com."]),
    ([{"target": "synapse.example.org", "port": 8448}], ("chat.example.org", "_matrix._tcp"), {},
     ["_matrix._tcp.chat.example.org. 3600 IN SRV 10 0 8448 synapse.example.org."]),
])
def test_lines(targets, args, kwargs, lines):
    assert srv_zone_lines(targets, *args, **kwargs) == lines


def test_lines_load_as_a_zone():
    """BIND-style readers accept the lines, with the records the user asked for."""
    lines = srv_zone_lines([{"target": "synapse.example.com", "port": 8448, "priority": 0, "weight": 7}], "example.com")
    zone_text = "@ 3600 IN SOA ns. admin. 1 3600 600 86400 300\n@ 3600 IN NS ns.\n" + "\n".join(lines) + "\n"
    zone = dns.zone.from_text(zone_text, origin="example.com.", relativize=False)
    rdataset = zone.find_rdataset("_matrix-fed._tcp.example.com.", "SRV")
    assert rdataset.ttl == 3600
    (rdata,) = list(rdataset)
    assert (rdata.priority, rdata.weight, rdata.port, rdata.target.to_text()) == (0, 7, 8448, "synapse.example.com.")


@pytest.mark.parametrize("targets, server_name, kwargs, fragment", [
    ([{"target": "s.example.com", "port": 443}], "example.com:8448", {}, "explicit port"),
    ([{"target": "s.example.com", "port": 443}], "[::1]", {}, "IP literal"),
    ([{"target": ".", "port": 443}], "example.com", {}, "service not available"),
    ([{"target": "s.example.com", "port": 70000}], "example.com", {}, "port is 70000"),
    ([], "example.com", {}, "targets is empty"),
    ("s.example.com", "example.com", {}, "must be a list"),
    ([{"target": "s.example.com", "port": 443}], "example.com", {"ttl": -1}, "ttl is -1"),
    ([{"target": "s.example.com", "port": 443}], "example.com", {"service": "_matrix._udp"}, "not a Matrix"),
])
def test_errors(targets, server_name, kwargs, fragment):
    with pytest.raises(AnsibleFilterError, match="srv_zone_lines: .*" + fragment):
        srv_zone_lines(targets, server_name, **kwargs)
