# Copyright (c) 2026, homeserver.delegation developers
# Simplified BSD License (see https://opensource.org/licenses/BSD-2-Clause)
# SPDX-License-Identifier: BSD-2-Clause

"""Matrix JSON signatures (ed25519 over canonical JSON), per the specification appendix: the
checks verify them. (Signing is for the tests' fake homeservers: tests/unit/matrix_signing.py.)

This module is internal to the homeserver.delegation collection and may change at any time.
"""

from __future__ import annotations

from ansible_collections.homeserver.delegation.plugins.module_utils._canonical_json import (
    decode_base64,
    encode_canonical_json,
)
from ansible_collections.homeserver.delegation.plugins.module_utils._dependencies import (
    Ed25519PublicKey,
    InvalidSignature,
)


class SignatureError(ValueError):
    """A signature is missing, malformed or does not verify."""


def verify_key_from_base64(text):
    """Return the ed25519 public key encoded as (unpadded) Base64 text; ValueError if it is not one."""
    raw = decode_base64(text)
    if len(raw) != 32:
        raise ValueError("an ed25519 public key is 32 bytes, got %d" % len(raw))
    return Ed25519PublicKey.from_public_bytes(raw)


def _signed_bytes(json_object):
    """The bytes a signature covers: the object without 'signatures' and 'unsigned'."""
    if not isinstance(json_object, dict):
        raise SignatureError("only a JSON object can be signed, got %s" % type(json_object).__name__)
    content = dict((key, value) for key, value in json_object.items() if key not in ("signatures", "unsigned"))
    return encode_canonical_json(content)


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
