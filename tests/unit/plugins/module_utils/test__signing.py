# Copyright (c) 2026, homeserver.delegation developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""JSON signing against the appendix's cryptographic test vectors, and verification round trips."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ansible_collections.homeserver.delegation.plugins.module_utils._signing import (
    SignatureError,
    verify_json_signature,
    verify_key_from_base64,
)
from ansible_collections.homeserver.delegation.tests.unit.matrix_signing import (
    encode_verify_key,
    sign_json,
    signing_key_from_seed,
)

# Appendix "Cryptographic Test Vectors": seed, server name and key id.
SPEC_SEED = "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1"
SPEC_SERVER = "domain"
SPEC_KEY_ID = "ed25519:1"


@pytest.mark.parametrize("document, expected_signature", [
    ({}, "K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ"),
    ({"one": 1, "two": "Two"}, "KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw"),
])
def test_spec_json_signing_vectors(document, expected_signature):
    signing_key = signing_key_from_seed(SPEC_SEED)
    signed = sign_json(document, SPEC_SERVER, SPEC_KEY_ID, signing_key)
    assert signed["signatures"] == {SPEC_SERVER: {SPEC_KEY_ID: expected_signature}}
    assert "signatures" not in document, "signing must not modify its input"
    public_key = verify_key_from_base64(encode_verify_key(signing_key))
    verify_json_signature(signed, SPEC_SERVER, SPEC_KEY_ID, public_key)


def test_spec_signature_verifies_when_unsigned_data_is_added():
    public_key = signing_key_from_seed(SPEC_SEED).public_key()
    document = {
        "one": 1, "two": "Two", "unsigned": {"age_ts": 922834800000},
        "signatures": {SPEC_SERVER: {SPEC_KEY_ID: "KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw"}},
    }
    verify_json_signature(document, SPEC_SERVER, SPEC_KEY_ID, public_key)


def test_fresh_key_round_trip_and_tampering():
    private_key = Ed25519PrivateKey.generate()
    public_key = verify_key_from_base64(encode_verify_key(private_key))
    document = {"server_name": "example.org", "valid_until_ts": 1, "verify_keys": {"ed25519:a": {"key": "x"}}}
    signed = sign_json(document, "example.org", "ed25519:a", private_key)
    verify_json_signature(signed, "example.org", "ed25519:a", public_key)

    tampered = dict(signed, valid_until_ts=2)
    with pytest.raises(SignatureError, match="does not match"):
        verify_json_signature(tampered, "example.org", "ed25519:a", public_key)
    other_key = Ed25519PrivateKey.generate().public_key()
    with pytest.raises(SignatureError, match="does not match"):
        verify_json_signature(signed, "example.org", "ed25519:a", other_key)
    with pytest.raises(SignatureError, match="not signed"):
        verify_json_signature(signed, "example.org", "ed25519:b", public_key)
    with pytest.raises(SignatureError, match="no signatures"):
        verify_json_signature(signed, "other.example", "ed25519:a", public_key)
    garbled = dict(signed, signatures={"example.org": {"ed25519:a": "!!"}})
    with pytest.raises(SignatureError, match="not Base64"):
        verify_json_signature(garbled, "example.org", "ed25519:a", public_key)


@pytest.mark.parametrize("text", ["", "AAAA", SPEC_SEED + "AAAA"])
def test_verify_key_must_be_32_bytes(text):
    with pytest.raises(ValueError):
        verify_key_from_base64(text)
