# Copyright (c) homeserver.delegation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json

import pytest

from ansible_collections.homeserver.delegation.plugins.module_utils._input import (
    InputError,
    check_absolute_path,
    check_email_address,
    check_file_name,
    check_host_name,
    check_https_url,
    check_input,
    check_upstream_url,
    client_document,
)

INJECTION = ("http://127.0.0.1;}location ~ probe-injected {return 200 INJECTED;}"
             "location ~ zz {set $x :8008")


@pytest.mark.parametrize("value, expected", [
    ("http://127.0.0.1:8008", {"url": "http://127.0.0.1:8008", "scheme": "http", "host": "127.0.0.1",
                               "hostname": "127.0.0.1", "port": 8008, "netloc": "127.0.0.1:8008"}),
    ("https://synapse.internal:8448", {"url": "https://synapse.internal:8448", "scheme": "https",
                                       "host": "synapse.internal", "hostname": "synapse.internal",
                                       "port": 8448, "netloc": "synapse.internal:8448"}),
    ("http://[::1]:8008", {"url": "http://[::1]:8008", "scheme": "http", "host": "[::1]",
                           "hostname": "::1", "port": 8008, "netloc": "[::1]:8008"}),
    # Without a port, the scheme's: HAProxy's server line needs one.
    ("https://synapse", {"url": "https://synapse", "scheme": "https", "host": "synapse",
                         "hostname": "synapse", "port": 443, "netloc": "synapse:443"}),
])
def test_upstream_url_accepted(value, expected):
    assert check_upstream_url(value, "reverse_proxy_upstream") == expected


@pytest.mark.parametrize("value, problem", [
    (INJECTION, "contains a space"),
    # The same without spaces, so that the host grammar is what refuses it.
    ("http://127.0.0.1;}location~probe{return", "has an invalid host or port"),
    ("http://$http_x_upstream:80", "the hostname contains '$'"),
    ("http://127.0.0.1:8008\n", 'contains whitespace ("\\n")'),
    ("http://127.0.0.1\t:8008", 'contains whitespace ("\\t")'),
    ("http://127.0.0.1:8008\x00", "contains a control character"),
    ("http://127.0.0.1:8008/_matrix", "must have no path"),
    ("http://127.0.0.1:8008/", "must have no path"),
    ("http://127.0.0.1:8008?x", "must have no path, query or fragment"),
    ("http://127.0.0.1:8008#x", "must have no path, query or fragment"),
    ("http://user:secret@127.0.0.1:8008", "contains user information"),
    ("ftp://127.0.0.1:8008", "must start with http:// or https://"),
    ("HTTP://127.0.0.1:8008", "(lower case)"),
    ("127.0.0.1:8008", "must be http://host:port"),
    ("http://", "has no host"),
    ("http://127.0.0.1:0", "port 0 is out of range"),
    ("http://127.0.0.1:99999", "port 99999 is out of range"),
    ('http://"a":1', "the hostname contains '\"'"),
    ("http://a{b}:1", "the hostname contains '{'"),
    ("", "is empty"),
])
def test_upstream_url_refused(value, problem):
    with pytest.raises(InputError) as caught:
        check_upstream_url(value, "reverse_proxy_upstream")
    message = str(caught.value)
    assert message.startswith("reverse_proxy_upstream ")
    assert problem in message


def test_upstream_url_message_shows_newline_escaped():
    with pytest.raises(InputError) as caught:
        check_upstream_url("http://a:1\nlocation", "reverse_proxy_upstream")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("value", [
    "https://matrix.example.com",
    "https://matrix.example.com:8448",
    "https://example.com/matrix",
    "https://example.com/a%2Fb/",
    "https://[2001:db8::1]",
])
def test_https_url_accepted(value):
    assert check_https_url(value, "well_known_client_base_url") == value


@pytest.mark.parametrize("value, problem", [
    ("http://matrix.example.com", "must be an https:// URL"),
    ("https://user:pass@matrix.example.com", "contains user information"),
    ("https://user@matrix.example.com", "contains user information"),
    ("https://matrix.example.com\n", "contains whitespace"),
    ("https://matrix.example.com/a b", "contains a space"),
    ("https://matrix.example.com?x=1", "no query or fragment"),
    ("https://matrix.example.com/#x", "no query or fragment"),
    ("https://matrix.example.com/%zz", "'%' not followed by two hex digits"),
    ('https://matrix.example.com/"', "has a path with '\"'"),
    ("https://matrix.example.com/\u00e9", "non-ASCII"),
    ("https://matrix example.com", "contains a space"),
    ("https://", "has no host"),
])
def test_https_url_refused(value, problem):
    with pytest.raises(InputError) as caught:
        check_https_url(value, "well_known_client_base_url")
    assert str(caught.value).startswith("well_known_client_base_url ")
    assert problem in str(caught.value)


@pytest.mark.parametrize("value", [
    "/etc/letsencrypt/live/example.com/fullchain.pem",
    "/etc/ssl/private/example.com+2-key.pem",
    "/srv/certs/host_name=a,b@c:d~e.pem",
])
def test_absolute_path_accepted(value):
    assert check_absolute_path(value, "well_known_tls_certificate") == value


@pytest.mark.parametrize("value, problem", [
    ("/etc/ssl/my cert.pem", "contains a space"),
    ("/etc/ssl/cert.pem\n", "contains whitespace"),
    ("/etc/ssl/cert.pem;}", "contains ';'"),
    ("/etc/ssl/$cert.pem", "contains '$'"),
    ("/etc/ssl/{cert}.pem", "contains '{'"),
    ('/etc/ssl/"cert.pem', "contains '\"'"),
    ("/etc/ssl/'cert.pem", "contains '''"),
    ("/etc/ssl/#cert.pem", "contains '#'"),
    ("/etc/ssl/c\\ert.pem", "contains '\\'"),
    ("etc/ssl/cert.pem", "must be an absolute path"),
    ("/" + "a" * 256, "has a part of 256 bytes"),
    ("/" + "a/" * 2048, "at most 4095"),
    ("", "is empty"),
])
def test_absolute_path_refused(value, problem):
    with pytest.raises(InputError) as caught:
        check_absolute_path(value, "well_known_tls_certificate")
    assert str(caught.value).startswith("well_known_tls_certificate ")
    assert problem in str(caught.value)


def test_file_name_of_255_bytes_accepted():
    assert check_file_name("a" * 255, "x") == "a" * 255


@pytest.mark.parametrize("value, problem", [
    ("a" * 256, "is 256 bytes long; a file name has at most 255"),
    ("x.yaml\n", "contains whitespace"),
    ("a/b", "contains '/'"),
    ("..", "is not a usable file name"),
    ("", "is not a usable file name"),
])
def test_file_name_refused(value, problem):
    with pytest.raises(InputError) as caught:
        check_file_name(value, "synapse_config_file")
    assert problem in str(caught.value)


def test_host_name_of_253_characters_accepted():
    name = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])
    assert len(name) == 253
    expected = {"host": name, "port": None, "is_ip_literal": False}
    assert check_host_name(name, "well_known_server_name") == expected


@pytest.mark.parametrize("value, problem", [
    (".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 62]), "is 254 characters long; a DNS name has at most 253"),
    ("a" * 64 + ".test", "longer than 63 characters"),
    ("example.com:443", "must be a host name without a port"),
    ("example.com\n", "contains whitespace"),
])
def test_host_name_refused(value, problem):
    with pytest.raises(InputError) as caught:
        check_host_name(value, "well_known_server_name")
    assert str(caught.value).startswith("well_known_server_name ")
    assert problem in str(caught.value)


@pytest.mark.parametrize("value", [
    "admin@example.com",
    "first.last+acme@mail.example.org",
    "o'brien!#$%&*/=?^_|~-@example.com",
    "a" * 64 + "@" + ".".join(["b" * 63, "c" * 63, "d" * 61]),
])
def test_email_address_accepted(value):
    assert check_email_address(value, "acme_email") == value
    assert check_input(value, "email_address", "acme_email") == value


@pytest.mark.parametrize("value, problem", [
    ("", "is empty"),
    ("admin.example.com", "it has no '@'"),
    ("@example.com", "the part before '@' is empty"),
    ("admin@", "has a domain that is not valid"),
    ('"admin"@example.com', "contains '\"' before the '@'"),
    ("ad min@example.com", "contains a space"),
    ("a@b@example.com", "contains '@' before the '@'"),
    # Caddy would replace {$HOME} with its environment, even between quotes.
    ("a{$HOME}@example.com", "contains '{' before the '@'"),
    ("a}@example.com", "contains '}' before the '@'"),
    ("a`b@example.com", "contains '`' before the '@'"),
    ("admin\n@example.com", "contains whitespace"),
    (".admin@example.com", "starts or ends with '.' or holds '..'"),
    ("admin.@example.com", "starts or ends with '.' or holds '..'"),
    ("ad..min@example.com", "starts or ends with '.' or holds '..'"),
    ("a" * 65 + "@example.com", "has a local part of 65 characters; at most 64"),
    ("admin@192.0.2.1", "has an IP address as its domain"),
    ("admin@[2001:db8::1]", "has an IP address as its domain"),
    ("admin@example.com:25", "has a domain that is not valid"),
    ("admin@example.com\n", "contains whitespace"),
    ("admin@exa mple.com", "contains a space"),
    ("a" * 64 + "@" + ".".join(["b" * 63, "c" * 63, "d" * 62]), "is 255 characters long; an e-mail address has at most 254"),
])
def test_email_address_refused(value, problem):
    with pytest.raises(InputError) as caught:
        check_email_address(value, "acme_email")
    assert str(caught.value).startswith("acme_email ")
    assert problem in str(caught.value)


def test_check_input_unknown_kind_names_the_kinds():
    with pytest.raises(ValueError, match="upstream_url"):
        check_input("x", "colour", "x")


def test_client_document_merges_extra():
    document = client_document("https://matrix.example.com", "https://id.example.com", {
        "org.matrix.msc4143.rtc_foci": [{"type": "livekit", "livekit_service_url": "https://rtc.example.com"}],
        "m.homeserver": {"server_name": "example.com"},
    })
    assert document == (
        '{"m.homeserver":{"base_url":"https://matrix.example.com","server_name":"example.com"},'
        '"m.identity_server":{"base_url":"https://id.example.com"},'
        '"org.matrix.msc4143.rtc_foci":[{"type":"livekit","livekit_service_url":"https://rtc.example.com"}]}')


@pytest.mark.parametrize("extra, problem", [
    ({"io.example": {"ratio": float("inf")}}, "holds inf at well_known_client_extra.io.example.ratio"),
    ({"io.example": [float("nan")]}, "holds nan at well_known_client_extra.io.example[0]"),
    ({"io.example": -float("inf")}, "holds -inf"),
    ({"m.homeserver": {"base_url": "http://matrix.example.com"}},
     "m.homeserver.base_url (after merging well_known_client_extra) \"http://matrix.example.com\" must be an https:// URL"),
    ({"m.homeserver": {"base_url": "https://a:b@matrix.example.com"}}, "contains user information"),
    ({"m.identity_server": {"base_url": "https://id.example.com\n"}}, "contains whitespace"),
    ({"m.homeserver": None}, "replaces m.homeserver with a value that has no base_url"),
    ({"io.example": {1: "one"}}, "holds the key 1"),
    ({"io.example": {1, 2}}, "holds a set"),
])
def test_client_document_refused(extra, problem):
    with pytest.raises(InputError) as caught:
        client_document("https://matrix.example.com", "", extra)
    assert "well_known_client_extra" in str(caught.value)
    assert problem in str(caught.value)


def test_client_document_output_is_strict_json():
    document = client_document("https://matrix.example.com", "", {"io.example": {"big": 1e308, "n": -0.5}})
    json.loads(document, parse_constant=lambda name: pytest.fail("non-standard constant " + name))


@pytest.mark.parametrize("base_url", ["http://matrix.example.com", "https://matrix.example.com /x", ""])
def test_client_document_checks_base_url(base_url):
    with pytest.raises(InputError, match="well_known_client_base_url"):
        client_document(base_url, "", {})


@pytest.mark.parametrize("value", [float("nan"), float("inf"), {"a": [1, float("-inf")]}, {1: "x"}])
def test_json_value_refused(value):
    with pytest.raises(InputError) as caught:
        check_input(value, "json_value", "synapse_extra_well_known_client_content")
    assert "synapse_extra_well_known_client_content" in str(caught.value)


def test_json_value_accepted_unchanged():
    value = {"org.example.support": {"contacts": [{"id": 1, "ratio": 0.5, "ok": True, "x": None}]}}
    assert check_input(value, "json_value", "v") == value
