# Copyright (c) homeserver.delegation contributors
# Simplified BSD License (see https://opensource.org/licenses/BSD-2-Clause)
# SPDX-License-Identifier: BSD-2-Clause

"""Matrix server-name grammar (spec appendix "Server Name").

This module is internal to the homeserver.delegation collection and may change at any time.

It is the one place where a server name (or a delegated ``m.server`` value, which uses the
same grammar) is parsed::

    server_name = hostname [ ":" port ]
    port        = 1*5DIGIT
    hostname    = IPv4address / "[" IPv6address "]" / dns-name
    IPv4address = 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT
    IPv6address = 2*45IPv6char
    dns-name    = 1*255dns-char
    dns-char    = DIGIT / ALPHA / "-" / "."

Decisions where the grammar leaves room (each is tested):

- Port: 1 to 5 digits, value 1-65535. Port 0 is rejected (nothing can be connected to it,
  and Synapse would silently treat it as "no port"). A leading zero (``:08448``) is rejected
  because the ``Host`` header must repeat the name exactly and servers would disagree on it.
- IPv4: four decimal parts 0-255 without leading zeros (``01.2.3.4`` could be read as octal by
  ``inet_aton``). A hostname made only of digits and dots is always read as an attempted IPv4
  literal, because resolvers would turn ``127.1`` or ``1.2.3`` into an address rather than
  look it up in DNS.
- IPv6: RFC 3513 syntax as checked by :mod:`ipaddress`, at most 45 characters, inside
  brackets. Zone identifiers (``%eth0``) are rejected. ``host`` keeps the brackets so that
  ``host + ":" + port`` reproduces the input; :attr:`ServerName.bare_host` drops them.
- DNS names: letters, digits, ``-`` and ``.``, 1-255 characters, no empty label (so no
  leading or trailing dot and no ``..``), labels of at most 63 characters (DNS cannot carry
  longer ones). Hyphens at label edges are accepted, as Synapse does.
- Case is preserved: server names are case-sensitive identifiers. DNS and HTTPS lookups use
  :attr:`ServerName.lookup_name` (lower-cased, like Synapse; DNS and TLS names are
  case-insensitive anyway), while the ``Host`` header keeps the original spelling.
- Anything else (whitespace, control characters, a scheme, a path, user information,
  non-ASCII characters) is rejected with a message that says which.
"""

from __future__ import annotations

import ipaddress
import json
import string
from dataclasses import dataclass

DEFAULT_FEDERATION_PORT = 8448

_DIGITS = frozenset(string.digits)
_DNS_CHARS = frozenset(string.ascii_letters + string.digits + "-.")
_IPV6_CHARS = frozenset(string.hexdigits + ":.")
_MAX_DNS_NAME = 255
_MAX_LABEL = 63
_MAX_IPV6_TEXT = 45
_MAX_SHOWN = 120


class ServerNameError(ValueError):
    """A text that is not a valid server name; the message names the input and the problem."""

    def __init__(self, text, reason, what="server name"):
        self.text = text
        self.reason = reason
        self.what = what
        super().__init__("%s is not a valid %s: %s" % (_quote(text), what, reason))


@dataclass(frozen=True)
class ServerName:
    """A parsed server name.

    ``host`` is the hostname exactly as written (IPv6 literals keep their brackets),
    ``port`` the explicit port or None, ``is_ip_literal`` whether ``host`` is an IP address.
    ``str()`` gives back the text that was parsed.
    """

    host: str
    port: int | None
    is_ip_literal: bool

    def __str__(self):
        if self.port is None:
            return self.host
        return "%s:%d" % (self.host, self.port)

    @property
    def bare_host(self):
        """The hostname or IP address without IPv6 brackets, for sockets and certificates."""
        if self.host.startswith("["):
            return self.host[1:-1]
        return self.host

    @property
    def lookup_name(self):
        """The name to use for DNS queries, the well-known URL and SNI (lower-cased)."""
        return self.bare_host.lower()

    @property
    def port_or_default(self):
        """The explicit port, or 8448 when the name has none."""
        return DEFAULT_FEDERATION_PORT if self.port is None else self.port

    def to_dict(self):
        """The name as a plain dict ``{host, port, is_ip_literal}``."""
        return {"host": self.host, "port": self.port, "is_ip_literal": self.is_ip_literal}


def _quote(text):
    if not isinstance(text, str):
        return repr(text)
    if len(text) > _MAX_SHOWN:
        text = text[:_MAX_SHOWN] + "..."
    return json.dumps(text, ensure_ascii=False)


def _describe_char(char):
    if char == " ":
        return "a space"
    if char.isspace():
        return "whitespace (%s)" % json.dumps(char)
    if ord(char) < 32 or ord(char) == 127:
        return "a control character (%s)" % json.dumps(char)
    return "'%s'" % char


def parse_server_name(text, what="server name"):
    """Parse ``text`` by the server-name grammar and return a :class:`ServerName`.

    ``what`` names the input in error messages (for example ``"m.server"``).
    Raises :class:`ServerNameError` for anything the grammar (as decided in the module
    docstring) does not allow.
    """

    def fail(reason):
        raise ServerNameError(text, reason, what)

    if not isinstance(text, str):
        fail("expected a string, got %s" % type(text).__name__)
    if text == "":
        fail("it is empty")
    for char in text:
        if char.isspace() or ord(char) < 32 or ord(char) == 127:
            fail("it contains %s" % _describe_char(char))
    if "://" in text:
        fail("it contains a URL scheme; give only the hostname and an optional port, "
             "for example matrix.example.com:8448")
    if "/" in text or "?" in text or "#" in text:
        fail("it contains a path or query ('/', '?' or '#'); give only the hostname and an "
             "optional port")
    if "@" in text:
        fail("it contains user information ('@'); give only the hostname and an optional port")
    non_ascii = [char for char in text if ord(char) > 127]
    if non_ascii:
        fail("it contains the non-ASCII character '%s'; internationalised names must be "
             "written in their ASCII (xn--) form" % non_ascii[0])

    if text.startswith("["):
        close = text.find("]")
        if close < 0:
            fail("the IPv6 literal has no closing ']'")
        host, rest = text[:close + 1], text[close + 1:]
        _check_ipv6_literal(host[1:-1], fail)
        if rest and not rest.startswith(":"):
            fail("unexpected text %s after the IPv6 literal; only ':<port>' may follow"
                 % _quote(rest))
        port = _parse_port(rest[1:], fail) if rest else None
        return ServerName(host, port, True)

    if text.count(":") > 1:
        fail("it contains more than one ':'; IPv6 literals must be enclosed in brackets, "
             "for example [2001:db8::1]:8448")
    host, colon, port_text = text.partition(":")
    port = _parse_port(port_text, fail) if colon else None
    if host == "":
        fail("the hostname is empty")
    if "[" in host or "]" in host:
        fail("it contains a bracket outside an IPv6 literal of the form [address]")
    if all(char in _DIGITS or char == "." for char in host):
        _check_ipv4(host, fail)
        return ServerName(host, port, True)
    _check_dns_name(host, fail)
    return ServerName(host, port, False)


def _parse_port(port_text, fail):
    if port_text == "":
        fail("there is a ':' but no port number after it")
    if not all(char in _DIGITS for char in port_text):
        fail("the port %s is not a number" % _quote(port_text))
    if len(port_text) > 5:
        fail("the port %s has more than 5 digits" % port_text)
    port = int(port_text)
    if not 1 <= port <= 65535:
        fail("port %d is out of range 1-65535" % port)
    if port_text.startswith("0"):
        fail("the port %s has a leading zero; write %d" % (port_text, port))
    return port


def _check_ipv4(host, fail):
    parts = host.split(".")
    if len(parts) != 4:
        fail("%s is made of digits and dots like an IPv4 address, but an IPv4 address has "
             "exactly four parts" % _quote(host))
    for part in parts:
        if part == "":
            fail("the IPv4 address %s has an empty part" % _quote(host))
        if len(part) > 3 or int(part) > 255:
            fail("the IPv4 address %s has the part %s, which is out of range 0-255"
                 % (_quote(host), part))
        if len(part) > 1 and part.startswith("0"):
            fail("the IPv4 address %s has the part %s with a leading zero, which some "
                 "resolvers read as octal" % (_quote(host), part))


def _check_ipv6_literal(address, fail):
    if address == "":
        fail("the brackets are empty; they must enclose an IPv6 address")
    if "%" in address:
        fail("the IPv6 literal has a zone identifier ('%'), which server names do not allow")
    bad = [char for char in address if char not in _IPV6_CHARS]
    if bad:
        fail("the IPv6 literal contains %s, which is not a hex digit, ':' or '.'"
             % _describe_char(bad[0]))
    if ":" not in address:
        fail("[%s] is not an IPv6 address; write IPv4 addresses without brackets" % address)
    if len(address) > _MAX_IPV6_TEXT:
        fail("the IPv6 literal is longer than %d characters" % _MAX_IPV6_TEXT)
    tail = address.rsplit(":", 1)[-1]
    if "." in tail:
        # Checked here too because Python 3.8's ipaddress accepts leading zeros in it.
        _check_ipv4(tail, fail)
    try:
        ipaddress.IPv6Address(address)
    except ValueError:
        fail("[%s] is not a valid IPv6 address" % address)


def _check_dns_name(host, fail):
    bad = [char for char in host if char not in _DNS_CHARS]
    if bad:
        fail("the hostname contains %s; only letters, digits, '-' and '.' are allowed"
             % _describe_char(bad[0]))
    if len(host) > _MAX_DNS_NAME:
        fail("the hostname is %d characters long; at most %d are allowed"
             % (len(host), _MAX_DNS_NAME))
    if host.startswith("."):
        fail("the hostname starts with '.'")
    if host.endswith("."):
        fail("the hostname ends with '.'; write it without the trailing dot")
    if ".." in host:
        fail("the hostname has an empty label ('..')")
    for label in host.split("."):
        if len(label) > _MAX_LABEL:
            fail("the label %s is longer than %d characters, which DNS cannot carry"
                 % (_quote(label), _MAX_LABEL))
