# Copyright (c) 2026, homeserver.delegation developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Signing Matrix JSON (ed25519 over canonical JSON), for the fake homeservers of the tests
and benchmarks. The collection itself only verifies signatures (plugins/module_utils/_signing.py)."""

from __future__ import annotations

import copy

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ansible_collections.homeserver.delegation.plugins.module_utils._canonical_json import (
    decode_base64,
    encode_unpadded_base64,
)
from ansible_collections.homeserver.delegation.plugins.module_utils._signing import _signed_bytes


def signing_key_from_seed(seed):
    """Return the ed25519 private key for a 32-byte seed (bytes) or its Base64 text."""
    if isinstance(seed, str):
        seed = decode_base64(seed)
    if len(seed) != 32:
        raise ValueError("an ed25519 seed is 32 bytes, got %d" % len(seed))
    return Ed25519PrivateKey.from_private_bytes(seed)


def encode_verify_key(private_key):
    """Return the unpadded Base64 public key of an ed25519 private key."""
    raw = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return encode_unpadded_base64(raw)


def sign_json(json_object, signing_name, key_id, private_key):
    """Return a copy of json_object signed by signing_name with key_id ('ed25519:...')."""
    signed = copy.deepcopy(json_object)
    signature = private_key.sign(_signed_bytes(json_object))
    signed.setdefault("signatures", {}).setdefault(signing_name, {})[key_id] = encode_unpadded_base64(signature)
    return signed
