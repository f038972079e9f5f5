# Copyright (c) homeserver.delegation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.homeserver.delegation.plugins.filter.check_input import FilterModule

FILTERS = FilterModule().filters()
check_input = FILTERS["check_input"]
well_known_client_document = FILTERS["well_known_client_document"]


def test_upstream_returns_its_parts():
    assert check_input("http://127.0.0.1:8008", "upstream_url", "reverse_proxy_upstream")["netloc"] == "127.0.0.1:8008"


@pytest.mark.parametrize("value, kind, message", [
    ("http://$http_x_upstream:80", "upstream_url", 'reverse_proxy_upstream "http://$http_x_upstream:80" has an invalid host'),
    ("/etc/ssl/my cert.pem", "absolute_path", 'reverse_proxy_upstream "/etc/ssl/my cert.pem" contains a space'),
])
def test_refusal_names_the_variable(value, kind, message):
    with pytest.raises(AnsibleFilterError) as caught:
        check_input(value, kind, "reverse_proxy_upstream")
    assert str(caught.value).startswith(message)


def test_unknown_kind_is_an_error_not_a_traceback():
    with pytest.raises(AnsibleFilterError, match="unknown kind of input 'colour'"):
        check_input("x", "colour", "x")


def test_client_document_with_infinity_is_refused():
    with pytest.raises(AnsibleFilterError, match="well_known_client_extra holds inf"):
        well_known_client_document("https://matrix.example.com", "", {"x": float("inf")})
