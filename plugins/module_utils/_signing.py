# Copyright (c) 2026, homeserver.delegation developers
# Simplified BSD License (see https://opensource.org/licenses/BSD-2-Clause)
# SPDX-License-Identifier: BSD-2-Clause

"""Matrix JSON signatures (ed25519 over canonical JSON), per the specification appendix.

This module is internal to the homeserver.delegation collection and may change at any time.
"""

from __future__ import annotations

import copy
import traceback

from ansible_collections.homeserver.delegation.plugins.module_utils._canonical_json import (
    decode_base64,
    encode_canonical_json,
    encode_unpadded_base64,
)

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
except ImportError:
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = traceback.format_exc()


class SignatureError(ValueError):
    """A signature is missing, malformed or does not verify."""


def signing_key_from_seed(seed):
    """Return the ed25519 private key for a 32-byte seed (bytes) or its Base64 text."""
    if isinstance(seed, str):
        seed = decode_base64(seed)
    if len(seed) != 32:
        raise ValueError("an ed25519 seed is 32 bytes, got %d" % len(seed))
    return Ed25519PrivateKey.from_private_bytes(seed)


def verify_key_from_base64(text):
    """Return the ed25519 public key encoded as (unpadded) Base64 text; ValueError if it is not one."""
    raw = decode_base64(text)
    if len(raw) != 32:
        raise ValueError("an ed25519 public key is 32 bytes, got %d" % len(raw))
    return Ed25519PublicKey.from_public_bytes(raw)


def encode_verify_key(private_key):
    """Return the unpadded Base64 public key of an ed25519 private key."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    raw = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return encode_unpadded_base64(raw)


def _signed_bytes(json_object):
    """The bytes a signature covers: the object without 'signatures' and 'unsigned'."""
    if not isinstance(json_object, dict):
        raise SignatureError("only a JSON object can be signed, got %s" % type(json_object).__name__)
    content = dict((key, value) for key, value in json_object.items() if key not in ("signatures", "unsigned"))
    return encode_canonical_json(content)


def sign_json(json_object, signing_name, key_id, private_key):
    """Return a copy of json_object signed by signing_name with key_id ('ed25519:...')."""
    signed = copy.deepcopy(json_object)
    signature = private_key.sign(_signed_bytes(json_object))
    signed.setdefault("signatures", {}).setdefault(signing_name, {})[key_id] = encode_unpadded_base64(signature)
    return signed


def verify_json_signature(json_object, signing_name, key_id, public_key):
    """Check that json_object carries a valid signature by signing_name with key_id.

    public_key is an Ed25519PublicKey. Raises SignatureError saying what is wrong.
    """
    signatures = json_object.get("signatures") if isinstance(json_object, dict) else None
    if not isinstance(signatures, dict) or not isinstance(signatures.get(signing_name), dict):
        raise SignatureError("the object has no signatures by %s" % signing_name)
    signature_text = signatures[signing_name].get(key_id)
    if signature_text is None:
        raise SignatureError("the object is not signed by %s with key %s" % (signing_name, key_id))
    try:
        signature = decode_base64(signature_text)
    except ValueError as exc:
        raise SignatureError("the signature by %s with key %s is not Base64: %s" % (signing_name, key_id, exc)) from exc
    try:
        public_key.verify(signature, _signed_bytes(json_object))
    except InvalidSignature as exc:
        raise SignatureError("the signature by %s with key %s does not match the content" % (signing_name, key_id)) from exc
