# Copyright (c) 2026, homeserver.delegation developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""parse_json_body: bounded depth and size, no NaN/Infinity, a clear error instead of a crash."""

from __future__ import annotations

import time

import pytest

from ansible_collections.homeserver.delegation.plugins.module_utils._json_document import (
    MAX_DEPTH,
    JsonDocumentError,
    nesting_depth,
    parse_json_body,
)


def nested(depth, opening="[", closing="]", inner="1"):
    return (opening * depth + inner + closing * depth).encode()


@pytest.mark.parametrize("body, message", [
    pytest.param(nested(10000), "nested more than 64 levels deep", id="array-nested-10000"),
    pytest.param(('{"a":' * 10000 + "1" + "}" * 10000).encode(), "nested more than 64 levels deep",
                 id="object-nested-10000"),
    pytest.param(nested(MAX_DEPTH + 1), "nested more than 64 levels deep", id="array-nested-65"),
    pytest.param(b"[" * 100000, "nested more than 64 levels deep", id="unterminated-brackets"),
    pytest.param(b'{"m.server": NaN}', "NaN is not valid JSON", id="NaN"),
    pytest.param(b'{"a": Infinity}', "Infinity is not valid JSON", id="Infinity"),
    pytest.param(b'[-Infinity]', "-Infinity is not valid JSON", id="minus-Infinity"),
    pytest.param(b"\xff\xfe{}", "the body is not UTF-8", id="not-utf8"),
    pytest.param(b"  \n", "the body is empty, not JSON", id="blank"),
    pytest.param(b"<html></html>", "the body is not valid JSON", id="html"),
    pytest.param(b"[" + b"1," * 200000 + b"1]", "the body has 400003 bytes; at most 262144", id="larger-than-256-KiB"),
])
def test_unacceptable_bodies_raise_a_clear_error(body, message):
    with pytest.raises(JsonDocumentError) as caught:
        parse_json_body(body)
    assert message in str(caught.value)


def test_the_size_limit_can_be_lowered():
    with pytest.raises(JsonDocumentError, match="the body has 12 bytes; at most 10 are accepted"):
        parse_json_body(b'{"a": "bcd"}', max_bytes=10)


def test_64_levels_are_accepted():
    value = parse_json_body(nested(MAX_DEPTH))
    for dummy in range(MAX_DEPTH):
        value = value[0]
    assert value == 1


@pytest.mark.parametrize("body, expected", [
    pytest.param(b'{"m.server": "[[[[{{{{' + b"[" * 500 + b'"}', {"m.server": "[[[[{{{{" + "[" * 500},
                 id="brackets-inside-a-string"),
    pytest.param(b'{"a": "\\"[[[[", "b": [1]}', {"a": '"[[[[', "b": [1]}, id="escaped-quote-then-brackets"),
    pytest.param(b'{"big": 1e400}', {"big": float("inf")}, id="number-overflow-is-json"),
])
def test_brackets_in_strings_do_not_count(body, expected):
    assert parse_json_body(body) == expected


@pytest.mark.parametrize("body", [
    pytest.param(b'"' + b'\\"' * 100000, id="unterminated-string-of-escaped-quotes"),
    pytest.param(b'"' + b'\\"' * 100000 + b"\\", id="escaped-quotes-and-a-final-backslash"),
    pytest.param(b'"' * 200000, id="quotes-only"),
])
def test_a_body_built_to_make_the_depth_scan_quadratic_is_refused_promptly(body):
    # A scan that retried every quote would take many minutes here; the bound only proves
    # that it does not (no timing is measured).
    started = time.monotonic()
    with pytest.raises(JsonDocumentError, match="the body is not valid JSON"):
        parse_json_body(body)
    assert time.monotonic() - started < 30


def test_depth_counts_brackets_outside_strings_only():
    assert nesting_depth('["[[[", "\\\\", [["]"]]]') == 3
    assert nesting_depth('{"a": "\\\\"}') == 1
