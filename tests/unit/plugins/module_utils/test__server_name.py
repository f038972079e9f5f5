# Copyright (c) homeserver.delegation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from fake_transport import load_corpus

from ansible_collections.homeserver.delegation.plugins.module_utils._server_name import (
    ServerName,
    ServerNameError,
    parse_server_name,
)

GRAMMAR_CASES = [case for case in load_corpus() if case["category"] == "server_name_grammar"]


@pytest.mark.parametrize("case", GRAMMAR_CASES, ids=[case["id"] for case in GRAMMAR_CASES])
def test_corpus_grammar_case(case):
    expected = case["expected"]
    if expected["valid"]:
        name = parse_server_name(case["server_name"])
        assert (name.host, name.port) == (expected["host"], expected["port"])
        assert str(name) == case["server_name"]
    else:
        with pytest.raises(ServerNameError):
            parse_server_name(case["server_name"])


@pytest.mark.parametrize("text, host, port, is_ip_literal, bare_host", [
    ("example.com", "example.com", None, False, "example.com"),
    ("example.com:8448", "example.com", 8448, False, "example.com"),
    ("a", "a", None, False, "a"),
    ("localhost:1", "localhost", 1, False, "localhost"),
    ("x.example:65535", "x.example", 65535, False, "x.example"),
    ("xn--bcher-kva.com", "xn--bcher-kva.com", None, False, "xn--bcher-kva.com"),
    ("-edge-.example", "-edge-.example", None, False, "-edge-.example"),
    ("0.0.0.0", "0.0.0.0", None, True, "0.0.0.0"),
    ("255.255.255.255:443", "255.255.255.255", 443, True, "255.255.255.255"),
    ("[::1]", "[::1]", None, True, "::1"),
    ("[::1]:80", "[::1]", 80, True, "::1"),
    ("[2001:DB8::A]", "[2001:DB8::A]", None, True, "2001:DB8::A"),
    ("[::ffff:1.2.3.4]:8448", "[::ffff:1.2.3.4]", 8448, True, "::ffff:1.2.3.4"),
    ("1a.example", "1a.example", None, False, "1a.example"),
    ("a" * 63 + ".example", "a" * 63 + ".example", None, False, "a" * 63 + ".example"),
])
def test_valid_names(text, host, port, is_ip_literal, bare_host):
    name = parse_server_name(text)
    assert name == ServerName(host, port, is_ip_literal)
    assert name.bare_host == bare_host
    assert str(name) == text
    assert name.to_dict() == {"host": host, "port": port, "is_ip_literal": is_ip_literal}


def test_case_is_preserved_but_lookups_use_lower_case():
    name = parse_server_name("Matrix.Example.ORG:8448")
    assert name.host == "Matrix.Example.ORG"
    assert name.lookup_name == "matrix.example.org"
    assert str(name) == "Matrix.Example.ORG:8448"


def test_default_port_only_when_absent():
    assert parse_server_name("example.com").port_or_default == 8448
    assert parse_server_name("example.com:443").port_or_default == 443


def test_longest_dns_name_is_accepted():
    text = ".".join(["a" * 63] * 4)[:255]
    assert len(text) == 255
    assert parse_server_name(text).host == text


@pytest.mark.parametrize("text, reason", [
    ("", "it is empty"),
    (" example.com", "it contains a space"),
    ("example.com\n", "it contains whitespace"),
    ("exa\x00mple.com", "it contains a control character"),
    ("https://example.com", "it contains a URL scheme"),
    ("example.com/matrix", "it contains a path"),
    ("example.com?x=1", "it contains a path or query"),
    ("user@example.com", "it contains user information"),
    ("bücher.example", "non-ASCII character 'ü'"),
    ("example.com:", "there is a ':' but no port number"),
    ("example.com:http", "the port \"http\" is not a number"),
    ("example.com:+80", "the port \"+80\" is not a number"),
    ("example.com:008448", "the port 008448 has more than 5 digits"),
    ("example.com:0", "port 0 is out of range 1-65535"),
    ("example.com:00000", "port 0 is out of range 1-65535"),
    ("matrix.org:99999", "port 99999 is out of range 1-65535"),
    ("example.com:08448", "the port 08448 has a leading zero; write 8448"),
    (":80", "the hostname is empty"),
    ("1234:5678:80", "more than one ':'"),
    ("2001:db8::1", "more than one ':'"),
    ("1234]", "bracket outside an IPv6 literal"),
    ("[1234", "has no closing ']'"),
    ("[]", "the brackets are empty"),
    ("[1.2.3.4]", "write IPv4 addresses without brackets"),
    ("[fe80::1%eth0]", "zone identifier"),
    ("[::g]", "contains 'g'"),
    ("[1:2:3:4:5:6:7:8:9]", "is not a valid IPv6 address"),
    ("[::1]x", "unexpected text \"x\" after the IPv6 literal"),
    ("[::1]:", "there is a ':' but no port number"),
    ("[" + "0:" * 30 + ":1]", "longer than 45 characters"),
    ("[::1.2.3.04]", "leading zero"),
    ("256.1.1.1", "part 256, which is out of range 0-255"),
    ("1.2.3", "exactly four parts"),
    ("127.1", "exactly four parts"),
    ("1.2.3.4.5", "exactly four parts"),
    ("1..3.4", "has an empty part"),
    ("01.2.3.4", "leading zero"),
    ("1.2.3.0004", "out of range 0-255"),
    ("under_score.example", "contains '_'"),
    ("percent%65.com", "contains '%'"),
    (".example.com", "starts with '.'"),
    ("example.com.", "ends with '.'"),
    ("example..com", "empty label"),
    ("a" * 64 + ".example", "longer than 63 characters"),
    ("a" * 256, "256 characters long"),
])
def test_invalid_names_say_what_is_wrong(text, reason):
    with pytest.raises(ServerNameError) as caught:
        parse_server_name(text)
    message = str(caught.value)
    assert "is not a valid server name: " in message
    assert reason in message
    assert caught.value.reason in message


def test_message_names_the_input_and_the_caller_label():
    with pytest.raises(ServerNameError) as caught:
        parse_server_name("matrix.org:99999", what="m.server")
    assert str(caught.value) == (
        '"matrix.org:99999" is not a valid m.server: port 99999 is out of range 1-65535')


def test_long_input_is_shortened_in_the_message():
    with pytest.raises(ServerNameError) as caught:
        parse_server_name("a" * 5000 + "_")
    assert len(str(caught.value)) < 400


@pytest.mark.parametrize("value", [None, 8448, ["example.com"], b"example.com"])
def test_non_strings_are_rejected(value):
    with pytest.raises(ServerNameError) as caught:
        parse_server_name(value)
    assert "expected a string" in str(caught.value)
