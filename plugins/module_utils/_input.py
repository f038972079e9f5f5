# Copyright (c) homeserver.delegation contributors
# Simplified BSD License (see https://opensource.org/licenses/BSD-2-Clause)
# SPDX-License-Identifier: BSD-2-Clause

"""Grammars of the role variables that reach a configuration file, a document or a file name.

This module is internal to the homeserver.delegation collection and may change at any time.

There is one function per kind of value. Each takes the text and the name of the variable it
came from (``what``), returns the value in a canonical form that is safe to write into an nginx,
Apache, HAProxy or Caddy configuration (the roles write that form, never the raw text), and
raises :class:`InputError`, whose message names the variable and the problem, for anything
else. Every pattern is anchored with ``\\A`` and ``\\Z``: ``$`` would accept a trailing newline.

- :func:`check_upstream_url`: ``http://`` or ``https://``, a host by the server-name grammar
  (a DNS name or an IP literal), an optional port, nothing else (no user information, path,
  query or fragment).
- :func:`check_https_url`: ``https://``, a host by the server-name grammar, an optional port and
  an optional path of RFC 3986 path characters; no user information, query or fragment.
- :func:`check_absolute_path`: an absolute path of letters, digits and ``. _ - + , = @ : ~ /``
  (no whitespace, control character, quote, ``;``, ``{``, ``}``, ``$``, ``#`` or ``\\``), each
  part at most 255 bytes, the whole at most 4095.
- :func:`check_file_name`: one directory entry name, 1-255 bytes (NAME_MAX), without ``/``,
  NUL or control characters, not ``.`` or ``..``.
- :func:`check_host_name`: a site's host name: the server-name grammar without a port, DNS names
  at most 253 characters (the longest name DNS can carry in text form).
- :func:`check_email_address`: ``local@domain``: a local part of RFC 5322 dot-atom characters
  other than backquote and braces (no quoted string, no comment), at most 64 characters, and a
  DNS name by the host-name grammar (no IP literal); at most 254 characters in all.
- :func:`client_document`: the ``/.well-known/matrix/client`` document, merged and rendered as
  JSON, refused when a number is not finite or a base URL is not an https URL after the merge.
"""

from __future__ import annotations

import json
import math
import re

from ansible_collections.homeserver.delegation.plugins.module_utils._server_name import (
    ServerNameError,
    parse_server_name,
)

MAX_DNS_NAME_TEXT = 253
MAX_EMAIL_ADDRESS = 254
MAX_EMAIL_LOCAL_PART = 64
NAME_MAX = 255
PATH_MAX = 4095
_MAX_SHOWN = 120

_UPSTREAM = re.compile(r"\A(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<authority>[^/?#]*)(?P<rest>.*)\Z",
                       re.DOTALL)
_PATH_CHARS = "A-Za-z0-9._+,=@:~/-"
_PATH = re.compile(r"\A/[%s]*\Z" % _PATH_CHARS)
_PATH_CHAR = re.compile(r"\A[%s]\Z" % _PATH_CHARS)
_URL_PATH_CHAR = re.compile(r"\A[A-Za-z0-9._~!$&'()*+,;=:@/%-]\Z")
# RFC 5322's atext without "`", "{" and "}": Caddy's configuration reads them as quotes and
# placeholders ({$VAR} is replaced even inside quotes), and no real address needs them.
_ATEXT = "A-Za-z0-9!#$%&'*+/=?^_|~-"
_DOT_ATOM = re.compile(r"\A[%s]+(?:\.[%s]+)*\Z" % (_ATEXT, _ATEXT))
_ATEXT_CHAR = re.compile(r"\A[.%s]\Z" % _ATEXT)
_URL_PATH = re.compile(r"\A(?:/(?:[A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2})*)*\Z")


class InputError(ValueError):
    """A role variable that does not follow its grammar; the message names it and the problem."""

    def __init__(self, what, text, reason):
        self.what = what
        self.text = text
        self.reason = reason
        if text is None:
            super().__init__("%s %s" % (what, reason))
        else:
            super().__init__("%s %s %s" % (what, _quote(text), reason))


def _quote(text):
    if not isinstance(text, str):
        return "(%s)" % type(text).__name__
    if len(text) > _MAX_SHOWN:
        text = text[:_MAX_SHOWN] + "..."
    return json.dumps(text, ensure_ascii=True)


def _describe_char(char):
    if char == " ":
        return "a space"
    if char.isspace():
        return "whitespace (%s)" % json.dumps(char)
    if ord(char) < 32 or 127 <= ord(char) < 160:
        return "a control character (%s)" % json.dumps(char)
    if ord(char) > 127:
        return "the non-ASCII character %s" % json.dumps(char)
    return "'%s'" % char


def _require_text(value, what):
    if not isinstance(value, str):
        raise InputError(what, value, "must be a string, not %s" % type(value).__name__)
    if value == "":
        raise InputError(what, value, "is empty")
    for char in value:
        if char.isspace() or ord(char) < 32 or ord(char) == 127:
            raise InputError(what, value, "contains %s" % _describe_char(char))


def _parse_authority(value, what, authority):
    if authority == "":
        raise InputError(what, value, "has no host after the scheme")
    if "@" in authority:
        raise InputError(what, value, "contains user information ('user@' or 'user:password@'), "
                                      "which is not allowed")
    try:
        return parse_server_name(authority, what="host[:port] of " + what)
    except ServerNameError as exc:
        raise InputError(what, value, "has an invalid host or port: %s" % exc.reason) from None


def check_upstream_url(value, what):
    """Check an upstream URL, ``http[s]://host[:port]``, and return its parts.

    Returns ``{url, scheme, host, hostname, port, netloc}``: ``url`` is rebuilt from the parts,
    ``host`` keeps IPv6 brackets, ``hostname`` does not, ``port`` is the explicit port or the
    scheme's default, ``netloc`` is ``host:port`` (HAProxy's server address).
    """
    _require_text(value, what)
    match = _UPSTREAM.match(value)
    if not match:
        raise InputError(what, value, "must be http://host:port or https://host:port")
    scheme = match.group("scheme")
    if scheme not in ("http", "https"):
        raise InputError(what, value, "must start with http:// or https:// (lower case), not %s://"
                         % scheme)
    if match.group("rest"):
        raise InputError(what, value, "must have no path, query or fragment after host:port "
                                      "(a path would make the proxy rewrite the request URI)")
    parsed = _parse_authority(value, what, match.group("authority"))
    port = parsed.port if parsed.port is not None else {"http": 80, "https": 443}[scheme]
    return {
        "url": "%s://%s" % (scheme, parsed),
        "scheme": scheme,
        "host": parsed.host,
        "hostname": parsed.bare_host,
        "port": port,
        "netloc": "%s:%d" % (parsed.host, port),
    }


def check_https_url(value, what):
    """Check an ``https://host[:port][/path]`` URL (a client base URL) and return it unchanged."""
    _require_text(value, what)
    match = _UPSTREAM.match(value)
    if not match or match.group("scheme") != "https":
        raise InputError(what, value, "must be an https:// URL")
    _parse_authority(value, what, match.group("authority"))
    rest = match.group("rest")
    if "?" in rest or "#" in rest:
        raise InputError(what, value, "must have no query or fragment ('?' or '#')")
    if not _URL_PATH.match(rest):
        bad = [char for char in rest if not _URL_PATH_CHAR.match(char)]
        raise InputError(what, value, "has a path with %s; only RFC 3986 path characters and "
                                      "%%-escapes of two hex digits are allowed"
                         % (_describe_char(bad[0]) if bad else "a '%' not followed by two hex digits"))
    return value


def check_absolute_path(value, what):
    """Check an absolute file path that a web server configuration names; return it unchanged."""
    _require_text(value, what)
    if not value.startswith("/"):
        raise InputError(what, value, "must be an absolute path (starting with '/')")
    if not _PATH.match(value):
        bad = next(char for char in value if not _PATH_CHAR.match(char))
        raise InputError(what, value, "contains %s; a path may hold only letters, digits and "
                                      "'. _ - + , = @ : ~ /'" % _describe_char(bad))
    if len(value.encode()) > PATH_MAX:
        raise InputError(what, value, "is %d bytes long; at most %d are allowed"
                         % (len(value.encode()), PATH_MAX))
    for part in value.split("/"):
        if len(part.encode()) > NAME_MAX:
            raise InputError(what, value, "has a part of %d bytes; a file name has at most %d"
                             % (len(part.encode()), NAME_MAX))
    return value


def check_file_name(value, what):
    """Check one directory entry name (no '/'), at most NAME_MAX bytes; return it unchanged."""
    if not isinstance(value, str):
        raise InputError(what, value, "must be a string, not %s" % type(value).__name__)
    if value in ("", ".", ".."):
        raise InputError(what, value, "is not a usable file name")
    for char in value:
        if char == "/" or ord(char) < 32 or ord(char) == 127:
            raise InputError(what, value, "contains %s, which a file name must not hold"
                             % ("'/'" if char == "/" else _describe_char(char)))
    size = len(value.encode())
    if size > NAME_MAX:
        raise InputError(what, value, "is %d bytes long; a file name has at most %d (NAME_MAX)"
                         % (size, NAME_MAX))
    return value


def check_host_name(value, what):
    """Check a site's host name: the server-name grammar without a port, DNS names <= 253 chars.

    Returns ``{host, port, is_ip_literal}`` as the ``parse_server_name`` filter does (``port`` is
    always None).
    """
    _require_text(value, what)
    try:
        parsed = parse_server_name(value, what=what)
    except ServerNameError as exc:
        raise InputError(what, value, "is not a valid host name: %s" % exc.reason) from None
    if parsed.port is not None:
        raise InputError(what, value, "must be a host name without a port")
    if not parsed.is_ip_literal and len(parsed.host) > MAX_DNS_NAME_TEXT:
        raise InputError(what, value, "is %d characters long; a DNS name has at most %d"
                         % (len(parsed.host), MAX_DNS_NAME_TEXT))
    return parsed.to_dict()


def check_email_address(value, what):
    """Check an e-mail address (dot-atom local part, DNS domain); return it unchanged."""
    _require_text(value, what)
    local, at, domain = value.rpartition("@")
    if not at:
        raise InputError(what, value, "is not an e-mail address: it has no '@'")
    if not local:
        raise InputError(what, value, "is not an e-mail address: the part before '@' is empty")
    bad = next((char for char in local if not _ATEXT_CHAR.match(char)), None)
    if bad is not None:
        raise InputError(what, value, "contains %s before the '@'; the local part may hold only "
                                      "letters, digits, '.' and %s" % (_describe_char(bad), _ATEXT[9:]))
    if not _DOT_ATOM.match(local):
        raise InputError(what, value, "has a local part that starts or ends with '.' or holds '..'")
    if len(local) > MAX_EMAIL_LOCAL_PART:
        raise InputError(what, value, "has a local part of %d characters; at most %d are allowed"
                         % (len(local), MAX_EMAIL_LOCAL_PART))
    try:
        parsed = check_host_name(domain, what)
    except InputError as exc:
        raise InputError(what, value, "has a domain that is not valid: %s" % exc.reason) from None
    if parsed["is_ip_literal"]:
        raise InputError(what, value, "has an IP address as its domain; give a DNS name")
    if len(value) > MAX_EMAIL_ADDRESS:
        raise InputError(what, value, "is %d characters long; an e-mail address has at most %d"
                         % (len(value), MAX_EMAIL_ADDRESS))
    return value


def _check_json_value(value, where, what):
    """Refuse what JSON cannot carry: non-finite numbers, non-string keys, other types."""
    if isinstance(value, bool) or value is None or isinstance(value, (str, int)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InputError(what, None, "holds %s at %s: JSON has no NaN or Infinity; give a "
                                         "finite number" % (value, where))
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InputError(what, None, "holds the key %r at %s, which is not a string; JSON "
                                             "keys are strings" % (key, where))
            _check_json_value(item, "%s.%s" % (where, key), what)
        return
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check_json_value(item, "%s[%d]" % (where, index), what)
        return
    raise InputError(what, None, "holds a %s at %s, which JSON cannot carry"
                     % (type(value).__name__, where))


def check_json_value(value, what):
    """Check that ``value`` can be written as strict JSON (no NaN or Infinity); return it."""
    _check_json_value(value, what, what)
    return value


def _merge(base, extra):
    """Merge ``extra`` into ``base`` as Ansible's ``combine(recursive=True)`` does."""
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def client_document(base_url, identity_server="", extra=None,
                    what="well_known_client_extra",
                    base_url_what="well_known_client_base_url",
                    identity_server_what="well_known_client_identity_server"):
    """Build the client document and return it as compact JSON.

    ``extra`` is merged recursively over ``{"m.homeserver": {"base_url": ...}}`` (and
    ``m.identity_server`` when given). The base URLs are checked after the merge, so that
    ``extra`` cannot replace them with something other than an https URL.
    """
    check_https_url(base_url, base_url_what)
    if identity_server:
        check_https_url(identity_server, identity_server_what)
    if extra is None:
        extra = {}
    if not isinstance(extra, dict):
        raise InputError(what, None, "must be a dictionary, not %s" % type(extra).__name__)
    _check_json_value(extra, what, what)
    document = {"m.homeserver": {"base_url": base_url}}
    if identity_server:
        document["m.identity_server"] = {"base_url": identity_server}
    document = _merge(document, extra)
    for key in ("m.homeserver", "m.identity_server"):
        if key not in document:
            continue
        section = document[key]
        if not isinstance(section, dict) or "base_url" not in section:
            raise InputError(what, None, "replaces %s with a value that has no base_url" % key)
        check_https_url(section["base_url"], "%s.base_url (after merging %s)" % (key, what))
    return json.dumps(document, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


CHECKS = {
    "upstream_url": check_upstream_url,
    "https_url": check_https_url,
    "absolute_path": check_absolute_path,
    "file_name": check_file_name,
    "host_name": check_host_name,
    "email_address": check_email_address,
    "json_value": check_json_value,
}


def check_input(value, kind, what):
    """Check ``value`` by the grammar ``kind`` (a key of :data:`CHECKS`), naming it ``what``."""
    try:
        check = CHECKS[kind]
    except KeyError:
        raise ValueError("unknown kind of input %r; known: %s" % (kind, ", ".join(sorted(CHECKS)))) from None
    return check(value, what)
