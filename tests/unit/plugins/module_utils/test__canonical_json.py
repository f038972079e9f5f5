# Copyright (c) 2026, homeserver.delegation developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Canonical JSON and unpadded Base64 against the examples of the Matrix specification appendix."""

from __future__ import annotations

import json

import pytest

from ansible_collections.homeserver.delegation.plugins.module_utils._canonical_json import (
    CanonicalJsonError,
    decode_base64,
    encode_canonical_json,
    encode_unpadded_base64,
)

# (input JSON text, expected canonical JSON text): every example of the appendix "Canonical JSON".
SPEC_EXAMPLES = [
    ('{}', '{}'),
    ('{\n    "one": 1,\n    "two": "Two"\n}', '{"one":1,"two":"Two"}'),
    ('{\n    "b": "2",\n    "a": "1"\n}', '{"a":"1","b":"2"}'),
    ('{"b":"2","a":"1"}', '{"a":"1","b":"2"}'),
    (
        '{"auth": {"success": true, "mxid": "@john.doe:example.com", "profile": {"display_name": "John Doe",'
        ' "three_pids": [{"medium": "email", "address": "john.doe@example.org"},'
        ' {"medium": "msisdn", "address": "123456789"}]}}}',
        '{"auth":{"mxid":"@john.doe:example.com","profile":{"display_name":"John Doe","three_pids":'
        '[{"address":"john.doe@example.org","medium":"email"},{"address":"123456789","medium":"msisdn"}]},'
        '"success":true}}',
    ),
    ('{"a": "日本語"}', '{"a":"日本語"}'),
    ('{"本": 2, "日": 1}', '{"日":1,"本":2}'),
    ('{"a": "\\u65E5"}', '{"a":"日"}'),
    ('{"a": null}', '{"a":null}'),
    ('{"a": -0, "b": 1e10}', '{"a":0,"b":10000000000}'),
]


@pytest.mark.parametrize("source, expected", SPEC_EXAMPLES)
def test_spec_examples_encode_exactly(source, expected):
    assert encode_canonical_json(json.loads(source)) == expected.encode("utf-8")


def test_control_characters_use_the_short_escapes_of_the_grammar():
    assert encode_canonical_json({"a": "\n\t\x01\"\\"}) == b'{"a":"\\n\\t\\u0001\\"\\\\"}'


@pytest.mark.parametrize("value", [{"a": 1.5}, {"a": float("nan")}, {"a": float("inf")}, {1: "x"}, {"a": object()}])
def test_values_outside_canonical_json_are_refused(value):
    with pytest.raises(CanonicalJsonError):
        encode_canonical_json(value)


@pytest.mark.parametrize("data, text", [
    (b"", ""), (b"f", "Zg"), (b"fo", "Zm8"), (b"foo", "Zm9v"),
    (b"foob", "Zm9vYg"), (b"fooba", "Zm9vYmE"), (b"foobar", "Zm9vYmFy"),
])
def test_unpadded_base64_spec_examples(data, text):
    assert encode_unpadded_base64(data) == text
    assert decode_base64(text) == data
    assert decode_base64(text + "=" * (-len(text) % 4)) == data


@pytest.mark.parametrize("text", ["Z", "Zm9v!", "Zm 9v", 42])
def test_invalid_base64_is_refused(text):
    with pytest.raises(ValueError):
        decode_base64(text)
