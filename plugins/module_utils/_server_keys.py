# Copyright (c) 2026, homeserver.delegation developers
# Simplified BSD License (see https://opensource.org/licenses/BSD-2-Clause)
# SPDX-License-Identifier: BSD-2-Clause

"""Checks of a homeserver's own key response (GET /_matrix/key/v2/server).

This module is internal to the homeserver.delegation collection and may change at any time.
"""

from __future__ import annotations

from ansible_collections.homeserver.delegation.plugins.module_utils._problems import problem
from ansible_collections.homeserver.delegation.plugins.module_utils._signing import (
    SignatureError,
    verify_json_signature,
    verify_key_from_base64,
)


def check_server_keys(document, server_name, now_ms):
    """Check a parsed /_matrix/key/v2/server body against the server name it must belong to.

    Returns a dict with server_name, valid_until_ts, verify_keys (ids), old_verify_keys (ids),
    verified_signatures (key ids whose signature verified) and problems. Codes:
    keys_invalid, keys_server_name_mismatch, keys_expired, keys_no_ed25519,
    keys_signature_invalid.
    """
    report = {
        "server_name": None,
        "valid_until_ts": None,
        "verify_keys": [],
        "old_verify_keys": [],
        "verified_signatures": [],
        "problems": [],
    }
    problems = report["problems"]
    if not isinstance(document, dict):
        problems.append(problem("keys_invalid", "the key response is not a JSON object"))
        return report

    report["server_name"] = document.get("server_name")
    if report["server_name"] != server_name:
        problems.append(problem(
            "keys_server_name_mismatch",
            "the key response is for server_name %r, not %r: this address serves another homeserver, "
            "or Synapse's server_name is not %s" % (report["server_name"], server_name, server_name)))

    valid_until_ts = document.get("valid_until_ts")
    if isinstance(valid_until_ts, bool) or not isinstance(valid_until_ts, int):
        problems.append(problem("keys_invalid", "valid_until_ts is missing or not an integer"))
    else:
        report["valid_until_ts"] = valid_until_ts
        if valid_until_ts <= now_ms:
            problems.append(problem(
                "keys_expired",
                "the keys were valid until %d ms, which is in the past (now %d ms): other servers "
                "will refuse them" % (valid_until_ts, now_ms)))

    verify_keys = document.get("verify_keys")
    if not isinstance(verify_keys, dict):
        problems.append(problem("keys_invalid", "verify_keys is missing or not an object"))
        verify_keys = {}
    old_verify_keys = document.get("old_verify_keys")
    if isinstance(old_verify_keys, dict):
        report["old_verify_keys"] = sorted(old_verify_keys)
    report["verify_keys"] = sorted(verify_keys)

    public_keys = {}
    for key_id, entry in sorted(verify_keys.items()):
        if not key_id.startswith("ed25519:"):
            continue
        key_text = entry.get("key") if isinstance(entry, dict) else None
        try:
            public_keys[key_id] = verify_key_from_base64(key_text)
        except ValueError as exc:
            problems.append(problem("keys_invalid", "verify key %s is not a valid ed25519 key: %s" % (key_id, exc)))
    if not public_keys:
        problems.append(problem("keys_no_ed25519", "the key response lists no usable ed25519 verify key"))
        return report

    # The signature is checked for the name the response claims, so that a response for
    # another server is reported as that (server name mismatch), not as a bad signature too.
    signer = report["server_name"] if isinstance(report["server_name"], str) else server_name
    signatures = document.get("signatures")
    own_signatures = signatures.get(signer) if isinstance(signatures, dict) else None
    if not isinstance(own_signatures, dict):
        own_signatures = {}
    # Servers accept the response only if every signature by a listed key verifies and at
    # least one does.
    for key_id, public_key in sorted(public_keys.items()):
        if key_id not in own_signatures:
            continue
        try:
            verify_json_signature(document, signer, key_id, public_key)
        except SignatureError as exc:
            problems.append(problem("keys_signature_invalid", "%s in the key response" % exc))
            continue
        report["verified_signatures"].append(key_id)
    if not report["verified_signatures"] and not any(p["code"] == "keys_signature_invalid" for p in problems):
        problems.append(problem(
            "keys_signature_invalid",
            "the key response carries no signature by %s with any of its own verify keys (%s)"
            % (signer, ", ".join(sorted(public_keys)))))
    return report
