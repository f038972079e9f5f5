# Copyright (c) 2026, homeserver.delegation developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""check_server_keys: every problem code, and a correct key response with none."""

from __future__ import annotations

import copy

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ansible_collections.homeserver.delegation.plugins.module_utils._server_keys import check_server_keys
from ansible_collections.homeserver.delegation.tests.unit.matrix_signing import encode_verify_key, sign_json

NOW_MS = 1_800_000_000_000
SERVER = "example.org"
KEY = Ed25519PrivateKey.generate()


def key_response(server_name=SERVER, valid_until_ts=NOW_MS + 86_400_000, key_id="ed25519:a_abc", signer=SERVER,
                 signing_key=KEY, listed_key=KEY):
    document = {
        "server_name": server_name,
        "valid_until_ts": valid_until_ts,
        "verify_keys": {key_id: {"key": encode_verify_key(listed_key)}},
        "old_verify_keys": {},
    }
    return sign_json(document, signer, key_id, signing_key)


def codes(report):
    return sorted(problem["code"] for problem in report["problems"])


def test_correct_response_has_no_problem():
    report = check_server_keys(key_response(), SERVER, NOW_MS)
    assert codes(report) == []
    assert report["verified_signatures"] == ["ed25519:a_abc"]
    assert report["verify_keys"] == ["ed25519:a_abc"]


def tampered():
    document = key_response()
    document["verify_keys"]["ed25519:b"] = {"key": encode_verify_key(Ed25519PrivateKey.generate())}
    return document


@pytest.mark.parametrize("document, expected", [
    ([], ["keys_invalid"]),
    (key_response(server_name="other.example", signer="other.example"), ["keys_server_name_mismatch"]),
    (key_response(server_name="other.example", signer=SERVER), ["keys_server_name_mismatch", "keys_signature_invalid"]),
    (key_response(valid_until_ts=NOW_MS - 1), ["keys_expired"]),
    (key_response(key_id="curve25519:a"), ["keys_no_ed25519"]),
    (key_response(signing_key=Ed25519PrivateKey.generate()), ["keys_signature_invalid"]),
    (key_response(signer="other.example"), ["keys_signature_invalid"]),
    (tampered(), ["keys_signature_invalid"]),
])
def test_each_problem(document, expected):
    assert codes(check_server_keys(document, SERVER, NOW_MS)) == expected


@pytest.mark.parametrize("mutate", [
    lambda d: d.pop("valid_until_ts"),
    lambda d: d.__setitem__("valid_until_ts", "soon"),
    lambda d: d.__setitem__("verify_keys", []),
])
def test_malformed_fields_are_keys_invalid(mutate):
    document = copy.deepcopy(key_response())
    mutate(document)
    assert "keys_invalid" in codes(check_server_keys(document, SERVER, NOW_MS))
