# Copyright (c) homeserver.delegation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Properties of the input grammars: legitimate values pass and come back as written; any value
holding a character that means something to a web server configuration is refused."""

from __future__ import annotations

import json
import string

from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.homeserver.delegation.plugins.module_utils._input import (
    InputError,
    check_absolute_path,
    check_https_url,
    check_upstream_url,
    client_document,
)

# Characters with a meaning in nginx, Apache, HAProxy or Caddy syntax, or none in a URL/path.
HOSTILE = list(" \t\n\r\x00\x0b\x0c\x1b\x7f;{}$\"'`\\#<>|&*?^[]()!\u00a0\u2028\u00e9")
PATH_HOSTILE = [char for char in HOSTILE if char not in "[]()!&*?"] + ["\\", "'", '"']

label = st.text(alphabet=string.ascii_lowercase + string.digits + "-", min_size=1, max_size=20)
dns_names = st.lists(label, min_size=1, max_size=4).map(".".join).filter(
    lambda name: not all(char in string.digits + "." for char in name))
hosts = st.one_of(dns_names, st.ip_addresses(v=4).map(str),
                  st.ip_addresses(v=6).map(lambda address: "[%s]" % address))
ports = st.one_of(st.none(), st.integers(min_value=1, max_value=65535))
upstreams = st.tuples(st.sampled_from(["http", "https"]), hosts, ports).map(
    lambda parts: "%s://%s" % parts[:2] + ("" if parts[2] is None else ":%d" % parts[2]))
path_parts = st.text(alphabet=string.ascii_letters + string.digits + "._+,=@:~-", min_size=1, max_size=30)
paths = st.lists(path_parts, min_size=1, max_size=6).map(lambda parts: "/" + "/".join(parts))
url_paths = st.lists(st.text(alphabet=string.ascii_letters + string.digits + "-._~!$&'()*+,;=:@",
                             max_size=12), max_size=4).map(lambda parts: "".join("/" + p for p in parts))
https_urls = st.tuples(hosts, ports, url_paths).map(
    lambda parts: "https://%s" % parts[0] + ("" if parts[1] is None else ":%d" % parts[1]) + parts[2])


def _insert(text, char, position):
    position = position % (len(text) + 1)
    return text[:position] + char + text[position:]


@given(upstreams)
def test_legitimate_upstreams_pass_and_keep_their_text(value):
    assert check_upstream_url(value, "reverse_proxy_upstream")["url"] == value


@settings(max_examples=500)
@given(upstreams, st.sampled_from(HOSTILE), st.integers(min_value=0))
def test_upstream_with_a_hostile_character_is_refused(value, char, position):
    hostile = _insert(value, char, position)
    try:
        parts = check_upstream_url(hostile, "reverse_proxy_upstream")
    except InputError as exc:
        assert str(exc).startswith("reverse_proxy_upstream ")
        return
    raise AssertionError("accepted %r as %r" % (hostile, parts))


@settings(max_examples=300)
@given(st.text(max_size=80))
def test_any_text_is_either_refused_or_a_clean_upstream(value):
    try:
        parts = check_upstream_url(value, "reverse_proxy_upstream")
    except InputError:
        return
    assert parts["url"] == value
    assert not any(char in value for char in " \t\n\r;{}$\"'\\#")


@given(paths)
def test_legitimate_paths_pass(value):
    assert check_absolute_path(value, "well_known_tls_certificate") == value


@settings(max_examples=500)
@given(paths, st.sampled_from(PATH_HOSTILE), st.integers(min_value=0))
def test_path_with_a_hostile_character_is_refused(value, char, position):
    hostile = _insert(value, char, position)
    try:
        check_absolute_path(hostile, "well_known_tls_certificate")
    except InputError as exc:
        assert str(exc).startswith("well_known_tls_certificate ")
        return
    raise AssertionError("accepted %r" % hostile)


@given(https_urls)
def test_legitimate_base_urls_pass(value):
    assert check_https_url(value, "well_known_client_base_url") == value


@settings(max_examples=500)
@given(https_urls, st.sampled_from([c for c in HOSTILE if c.isspace() or ord(c) < 32 or c in "\"<>\\`{}|^#?"]),
       st.integers(min_value=0))
def test_base_url_with_whitespace_or_a_control_character_is_refused(value, char, position):
    hostile = _insert(value, char, position)
    try:
        check_https_url(hostile, "well_known_client_base_url")
    except InputError:
        return
    raise AssertionError("accepted %r" % hostile)


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10)),
    lambda children: st.one_of(st.lists(children, max_size=3),
                               st.dictionaries(st.text(max_size=8), children, max_size=3)),
    max_leaves=15)


def _refuse_constant(name):
    raise AssertionError("the document holds %s, which is not JSON" % name)


@settings(max_examples=300)
@given(st.dictionaries(st.text(max_size=10), json_values, max_size=4))
def test_client_document_is_strict_json_or_refused(extra):
    try:
        document = client_document("https://matrix.example.com", "", extra)
    except InputError as exc:
        assert "well_known_client_extra" in str(exc)
        return
    parsed = json.loads(document, parse_constant=_refuse_constant)
    assert parsed["m.homeserver"]["base_url"].startswith("https://")
