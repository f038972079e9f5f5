# Copyright (c) homeserver.delegation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import ipaddress
import json
import string

from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.homeserver.delegation.plugins.module_utils._server_name import (
    ServerName,
    ServerNameError,
    parse_server_name,
)
from ansible_collections.homeserver.delegation.plugins.module_utils._wellknown import (
    validate_server_document,
)

# Text biased towards the grammar's own characters, so that many inputs are nearly valid.
GRAMMAR_ALPHABET = string.ascii_letters + string.digits + "-.:[]%_/@ " + "\n\x00\u00fc"
near_names = st.text(alphabet=GRAMMAR_ALPHABET, max_size=80)
any_text = st.text(max_size=300)

label = st.text(alphabet=string.ascii_letters + string.digits + "-", min_size=1, max_size=63)
dns_names = st.lists(label, min_size=1, max_size=5).map(".".join).filter(
    lambda name: len(name) <= 255 and not all(char in string.digits + "." for char in name))
ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = st.ip_addresses(v=6).map(lambda address: "[%s]" % address)
ports = st.one_of(st.none(), st.integers(min_value=1, max_value=65535))
valid_names = st.tuples(st.one_of(dns_names, ipv4, ipv6), ports).map(
    lambda parts: parts[0] if parts[1] is None else "%s:%d" % parts)


def _check(text):
    """Parse ``text``; only ServerNameError may escape, and accepted text round-trips."""
    try:
        name = parse_server_name(text)
    except ServerNameError as exc:
        assert str(exc).endswith(exc.reason)
        return None
    assert isinstance(name, ServerName)
    assert str(name) == text
    assert parse_server_name(str(name)) == name
    if name.port is not None:
        assert 1 <= name.port <= 65535
    if name.is_ip_literal:
        ipaddress.ip_address(name.bare_host)
    return name


@settings(max_examples=1500)
@given(near_names)
def test_near_names_never_crash_and_round_trip(text):
    _check(text)


@settings(max_examples=500)
@given(any_text)
def test_any_text_never_crashes(text):
    _check(text)


@settings(max_examples=1000)
@given(valid_names)
def test_generated_valid_names_are_accepted(text):
    name = _check(text)
    assert name is not None, text


@settings(max_examples=1000)
@given(st.one_of(valid_names, near_names, any_text))
def test_m_server_validation_never_crashes(value):
    body = json.dumps({"m.server": value}).encode("utf-8")
    document, delegated_server, error_code, message = validate_server_document(body)
    assert document == {"m.server": value}
    if error_code is None:
        assert str(delegated_server) == value
        assert message is None
    else:
        assert error_code == "invalid_m_server"
        assert delegated_server is None
        assert message


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
              st.text(max_size=20)),
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.text(max_size=10), children, max_size=4)),
    max_leaves=20)


@settings(max_examples=500)
@given(st.one_of(st.binary(max_size=200), json_values.map(lambda value: json.dumps(value).encode())))
def test_any_body_never_crashes(body):
    document, delegated_server, error_code, message = validate_server_document(body)
    assert error_code in (None, "not_json", "not_object", "missing_m_server", "invalid_m_server")
    assert (error_code is None) == (delegated_server is not None)
    if delegated_server is not None:
        assert str(delegated_server) == document["m.server"]
