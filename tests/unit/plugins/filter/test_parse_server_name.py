# Copyright (c) homeserver.delegation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.homeserver.delegation.plugins.filter.parse_server_name import FilterModule

parse_server_name = FilterModule().filters()["parse_server_name"]


@pytest.mark.parametrize("value, expected", [
    ("example.com:8448", {"host": "example.com", "port": 8448, "is_ip_literal": False}),
    ("example.com", {"host": "example.com", "port": None, "is_ip_literal": False}),
    ("1.2.3.4:1234", {"host": "1.2.3.4", "port": 1234, "is_ip_literal": True}),
    ("[2001:db8::1]", {"host": "[2001:db8::1]", "port": None, "is_ip_literal": True}),
])
def test_parses(value, expected):
    assert parse_server_name(value) == expected


@pytest.mark.parametrize("value, what, message", [
    ("matrix.org:99999", "server name",
     '"matrix.org:99999" is not a valid server name: port 99999 is out of range 1-65535'),
    ("https://matrix.example.com", "matrix_server_name",
     '"https://matrix.example.com" is not a valid matrix_server_name: it contains a URL scheme'),
    ("", "server name", '"" is not a valid server name: it is empty'),
    (None, "server name", "None is not a valid server name: expected a string, got NoneType"),
])
def test_invalid_input_is_a_filter_error(value, what, message):
    with pytest.raises(AnsibleFilterError) as caught:
        parse_server_name(value, what=what)
    assert str(caught.value).startswith(message)
