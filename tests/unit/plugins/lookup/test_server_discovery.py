# Copyright (c) homeserver.delegation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible.errors import AnsibleLookupError
from ansible.plugins.loader import lookup_loader

from fake_transport import FakeTransport

from ansible_collections.homeserver.delegation.plugins.module_utils._dependencies import MissingLibraryError
from ansible_collections.homeserver.delegation.plugins.module_utils._transport import NetworkTransport

DNS = {
    "A": {"example.com": ["42.0.0.10"], "matrix.example.net": ["42.0.0.20"]},
    "SRV": {"_matrix-fed._tcp.other.example": [[10, 5, 8443, "matrix.example.net."]]},
}
RESPONSES = {"https://example.com/.well-known/matrix/server": {
    "status": 200, "headers": {}, "body": '{"m.server": "matrix.example.net:443"}'}}


@pytest.fixture
def lookup():
    """The lookup as Ansible loads it, with a transport factory that records its options."""
    plugin = lookup_loader.get("homeserver.delegation.server_discovery")
    plugin.factory_calls = []

    def factory(options):
        plugin.factory_calls.append(options)
        return FakeTransport(DNS, RESPONSES)

    plugin.transport_factory = factory
    return plugin


def test_one_result_per_term_in_order(lookup):
    results = lookup.run(["example.com", "other.example", "42.0.0.99:8448"], variables={})
    assert [result["server_name"] for result in results] == [
        "example.com", "other.example", "42.0.0.99:8448"]
    assert [result["method"] for result in results] == [
        "well_known_explicit_port", "srv", "ip_literal"]
    assert results[0]["targets"] == [
        {"host": "matrix.example.net", "port": 443, "address": "42.0.0.20", "priority": None}]
    assert results[0]["host_header"] == "matrix.example.net:443"
    assert results[1]["targets"][0]["port"] == 8443
    assert results[2]["sni"] is None


def test_options_reach_the_transport(lookup):
    lookup.run(["example.com"], variables={}, nameservers=["192.0.2.53"], dns_port=5353,
               timeout=3, validate_certs=False, concurrency=4, allow_internal_redirects=True,
               name_timeout=7)
    assert lookup.factory_calls == [{"nameservers": ["192.0.2.53"], "dns_port": 5353,
                                     "ca_path": None, "validate_certs": False, "timeout": 3.0,
                                     "allow_internal_redirects": True, "name_timeout": 7.0}]


def test_default_options(lookup):
    lookup.run(["example.com"], variables={})
    assert lookup.factory_calls == [{"nameservers": None, "dns_port": 53, "ca_path": None,
                                     "validate_certs": True, "timeout": 10.0,
                                     "allow_internal_redirects": False, "name_timeout": None}]


@pytest.mark.parametrize("term, reason", [
    ("example.com:0", 'server_discovery: example.com:0: "example.com:0" is not a valid server '
                      "name: port 0 is out of range 1-65535"),
    ("nowhere.example", "server_discovery: nowhere.example: nowhere.example has no address"),
])
def test_failures_name_the_server_and_reason_without_traceback(lookup, term, reason):
    with pytest.raises(AnsibleLookupError) as caught:
        lookup.run(["example.com", term], variables={})
    assert str(caught.value).startswith(reason)
    assert "Traceback" not in str(caught.value)


def test_missing_library_names_the_package(lookup):
    def factory(options):
        raise MissingLibraryError("dnspython", "Traceback ...\nImportError: No module named dns")

    lookup.transport_factory = factory
    with pytest.raises(AnsibleLookupError) as caught:
        lookup.run(["example.com"], variables={})
    assert "dnspython is required on the controller" in str(caught.value)
    assert "pip install dnspython" in str(caught.value)
    assert "Traceback" not in str(caught.value)


@pytest.mark.parametrize("options, message", [
    ({"nameservers": ["dns.example"]}, "nameservers: 'dns.example' is not an IP address"),
    ({"dns_port": 0}, "dns_port: 0 is not a port number 1-65535"),
    ({"timeout": 0}, "timeout: 0.0 is not a positive number of seconds"),
    ({"ca_path": "/nonexistent/ca.pem"}, "ca_path: /nonexistent/ca.pem does not exist"),
    ({"concurrency": 0}, "concurrency must be at least 1"),
    ({"name_timeout": 0}, "name_timeout: 0.0 is not a positive number of seconds"),
    ({"name_timeout": -5}, "name_timeout: -5.0 is not a positive number of seconds"),
])
def test_bad_options_are_lookup_errors(options, message):
    plugin = lookup_loader.get("homeserver.delegation.server_discovery")
    with pytest.raises(AnsibleLookupError) as caught:
        plugin.run(["example.com"], variables={}, **options)
    assert message in str(caught.value)


def test_real_transport_is_built_from_options():
    plugin = lookup_loader.get("homeserver.delegation.server_discovery")
    transport = plugin.transport_factory({"nameservers": ["127.0.0.1"], "dns_port": 5353,
                                          "ca_path": None, "validate_certs": True,
                                          "timeout": 2})
    assert isinstance(transport, NetworkTransport)
    assert transport.timeout == 2.0
