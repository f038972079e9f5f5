# Copyright (c) 2026, homeserver.delegation developers
# Simplified BSD License (see https://opensource.org/licenses/BSD-2-Clause)
# SPDX-License-Identifier: BSD-2-Clause

"""Parse JSON received from the network with bounded size and nesting depth.

Every JSON body the verification engine reads from a server (the server and client
well-known documents, /_matrix/client/versions, /_matrix/federation/v1/version,
/_matrix/key/v2/server) goes through :func:`parse_json_body`. It never raises anything but
:class:`JsonDocumentError`, whose message says what is wrong with the body; callers turn it
into their own problem code. Python's json module recurses once per nesting level, so a body
nested thousands of levels deep would raise RecursionError (or worse, exhaust the stack of a
worker thread): the depth is measured before parsing, in one linear scan.

``NaN``, ``Infinity`` and ``-Infinity`` are not JSON (RFC 8259) and are refused, as Synapse
refuses them.

This module is internal to the homeserver.delegation collection and may change at any time.
"""

from __future__ import annotations

import json
import re

#: Nesting levels (arrays and objects) accepted. Matrix documents nest a handful of levels;
#: the keys response, the deepest, has four.
MAX_DEPTH = 64
#: Bytes accepted (the transports stop reading earlier: 50 KiB for well-known documents).
MAX_BYTES = 256 * 1024

# A JSON string (with escapes) or one bracket. Strings are matched whole so that brackets
# inside them are not counted. A string that is not terminated runs to the end of the text
# (and so does a final lone backslash): every match attempt that starts succeeds without
# backtracking, so the scan stays linear whatever the body (a pattern that could fail after
# scanning to the end would be retried at every later quote: quadratic time on a body made
# of escaped quotes). Brackets before an unterminated string are counted, which is all
# json.loads can recurse into before it refuses the string.
_TOKEN = re.compile(r'"(?:[^"\\]|\\.|\\\Z)*(?:"|\Z)|[\[\]{}]', re.DOTALL)


class JsonDocumentError(ValueError):
    """The body is not an acceptable JSON document; the message says why."""


def _reject_constant(name):
    raise JsonDocumentError("%s is not valid JSON" % name)


def nesting_depth(text, limit=MAX_DEPTH):
    """The nesting depth of JSON ``text``, counting at most up to ``limit + 1``."""
    depth = deepest = 0
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
        elif token in "]}":
            depth -= 1
    return deepest


def parse_json_body(body, max_bytes=MAX_BYTES, max_depth=MAX_DEPTH):
    """Parse ``body`` (bytes, UTF-8 JSON) and return the value.

    Raises :class:`JsonDocumentError` when the body is larger than ``max_bytes``, not UTF-8,
    empty, not JSON, holds NaN or Infinity, or nests more than ``max_depth`` levels.
    """
    if len(body) > max_bytes:
        raise JsonDocumentError("the body has %d bytes; at most %d are accepted" % (len(body), max_bytes))
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JsonDocumentError("the body is not UTF-8 (%s)" % exc.reason)
    if text.strip() == "":
        raise JsonDocumentError("the body is empty, not JSON")
    if nesting_depth(text, max_depth) > max_depth:
        raise JsonDocumentError("the body is JSON nested more than %d levels deep; no Matrix document "
                                "nests that deep" % max_depth)
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except JsonDocumentError:
        raise
    except RecursionError:
        # Not reached within the depth limit; kept so that no parse can ever crash.
        raise JsonDocumentError("the body is JSON nested too deeply to parse")
    except ValueError as exc:
        raise JsonDocumentError("the body is not valid JSON: %s" % exc)
