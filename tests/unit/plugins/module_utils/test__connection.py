# Copyright (c) homeserver.delegation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest
import yaml

from ansible_collections.homeserver.delegation.plugins.doc_fragments.connection import (
    ModuleDocFragment,
)
from ansible_collections.homeserver.delegation.plugins.module_utils._connection import (
    CONNECTION_OPTION_NAMES,
    ConnectionOptionsError,
    connection_argument_spec,
    validate_connection_options,
)


def test_argument_spec_matches_the_doc_fragment():
    documented = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    spec = connection_argument_spec()
    assert set(spec) == set(documented) == set(CONNECTION_OPTION_NAMES)
    for name, option in documented.items():
        assert spec[name]["type"] == option["type"], name
        assert spec[name].get("default") == option.get("default"), name
        assert spec[name].get("elements") == option.get("elements"), name


@pytest.mark.parametrize("options, normalised", [
    ({}, {"nameservers": None, "dns_port": 53, "ca_path": None, "validate_certs": True,
          "timeout": 10.0}),
    ({"nameservers": [" 192.0.2.53 ", "2001:DB8::53"], "dns_port": 5353, "timeout": 2},
     {"nameservers": ["192.0.2.53", "2001:db8::53"], "dns_port": 5353, "ca_path": None,
      "validate_certs": True, "timeout": 2.0}),
    ({"nameservers": "192.0.2.53", "validate_certs": False},
     {"nameservers": ["192.0.2.53"], "dns_port": 53, "ca_path": None, "validate_certs": False,
      "timeout": 10.0}),
])
def test_valid_options(options, normalised):
    assert validate_connection_options(options) == normalised


@pytest.mark.parametrize("options, message", [
    ({"nameservers": ["ns1.example"]}, "nameservers: 'ns1.example' is not an IP address"),
    ({"dns_port": 70000}, "dns_port: 70000 is not a port number 1-65535"),
    ({"dns_port": True}, "dns_port: True is not a port number"),
    ({"timeout": -1}, "timeout: -1 is not a positive number of seconds"),
    ({"timeout": float("nan")}, "timeout: nan is not a positive number of seconds"),
    ({"ca_path": "/nonexistent/ca.pem"}, "ca_path: /nonexistent/ca.pem does not exist"),
])
def test_invalid_options_name_the_option(options, message):
    with pytest.raises(ConnectionOptionsError) as caught:
        validate_connection_options(options)
    assert str(caught.value).startswith(message)
