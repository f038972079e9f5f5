# Copyright (c) 2026, homeserver.delegation developers
# Simplified BSD License (see https://opensource.org/licenses/BSD-2-Clause)
# SPDX-License-Identifier: BSD-2-Clause

"""Canonical JSON and unpadded Base64, as the Matrix specification appendix defines them.

This module is internal to the homeserver.delegation collection and may change at any time.
"""

from __future__ import annotations

import base64
import binascii
import json
import math

# Canonical JSON only allows integers that an IEEE double represents exactly.
MAX_SAFE_INTEGER = 2 ** 53 - 1


class CanonicalJsonError(ValueError):
    """A value cannot be encoded as canonical JSON (a fraction, NaN, a non-string key...)."""


def _canonical_value(value, path):
    """Return value with integral floats turned into ints; reject what canonical JSON forbids."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        # '-0' and '1e10' parse as floats in Python; the appendix encodes them as 0 and
        # 10000000000, so integral floats in the safe range are integers here.
        if math.isfinite(value) and value.is_integer() and abs(value) <= MAX_SAFE_INTEGER:
            return int(value)
        raise CanonicalJsonError("%s: %r is not an integer; canonical JSON has no fractions" % (path, value))
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalJsonError("%s: object key %r is not a string" % (path, key))
            result[key] = _canonical_value(item, "%s.%s" % (path, key))
        return result
    if isinstance(value, (list, tuple)):
        return [_canonical_value(item, "%s[%d]" % (path, index)) for index, item in enumerate(value)]
    raise CanonicalJsonError("%s: %s cannot be encoded as JSON" % (path, type(value).__name__))


def encode_canonical_json(value):
    """Encode value as canonical JSON bytes: UTF-8, no insignificant white space, sorted keys.

    Raises CanonicalJsonError for values canonical JSON cannot represent.
    """
    try:
        return json.dumps(
            _canonical_value(value, "$"),
            ensure_ascii=False,
            separators=(",", ":"),
            sort_keys=True,
            allow_nan=False,
        ).encode("utf-8")
    except UnicodeEncodeError as exc:
        # A lone surrogate (from a '\\ud800' escape) has no UTF-8 encoding.
        raise CanonicalJsonError("$: string is not valid Unicode: %s" % exc) from exc


def encode_unpadded_base64(data):
    """Encode bytes as standard Base64 without '=' padding (the Matrix 'unpadded Base64')."""
    return base64.b64encode(data).decode("ascii").rstrip("=")


def decode_base64(text):
    """Decode standard Base64 with or without padding; raise ValueError naming the problem."""
    if not isinstance(text, str):
        raise ValueError("expected a Base64 string, got %s" % type(text).__name__)
    stripped = text.rstrip("=")
    if len(stripped) % 4 == 1:
        raise ValueError("%r is not valid Base64 (impossible length)" % text)
    try:
        return base64.b64decode(stripped + "=" * (-len(stripped) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("%r is not valid Base64: %s" % (text, exc)) from exc
