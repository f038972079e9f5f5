# Copyright (c) homeserver.delegation contributors
# Simplified BSD License (see https://opensource.org/licenses/BSD-2-Clause)
# SPDX-License-Identifier: BSD-2-Clause

"""Connection options shared by the discovery lookup and the verification modules.

This module is internal to the homeserver.delegation collection and may change at any time.

The options are documented once in the ``homeserver.delegation.connection`` doc fragment;
:func:`connection_argument_spec` is the matching module argument spec and
:func:`transport_from_options` turns the option values into a :class:`NetworkTransport`.
"""

from __future__ import annotations

import ipaddress
import math
import os.path

from ansible_collections.homeserver.delegation.plugins.module_utils._transport import (
    NetworkTransport,
)

CONNECTION_OPTION_NAMES = ("nameservers", "dns_port", "ca_path", "validate_certs", "timeout")


class ConnectionOptionsError(ValueError):
    """A connection option has an unusable value; the message names the option."""


def connection_argument_spec():
    """The module argument spec of the options in the ``connection`` doc fragment."""
    return {
        "nameservers": {"type": "list", "elements": "str"},
        "dns_port": {"type": "int", "default": 53},
        "ca_path": {"type": "path"},
        "validate_certs": {"type": "bool", "default": True},
        "timeout": {"type": "float", "default": 10.0},
    }


def validate_connection_options(options):
    """Check the connection option values in the mapping ``options``; return them normalised.

    Raises :class:`ConnectionOptionsError` naming the option and the problem.
    """
    nameservers = options.get("nameservers") or None
    if nameservers is not None:
        if isinstance(nameservers, str):
            nameservers = [nameservers]
        checked = []
        for nameserver in nameservers:
            text = str(nameserver).strip()
            try:
                checked.append(str(ipaddress.ip_address(text)))
            except ValueError:
                raise ConnectionOptionsError(
                    "nameservers: %r is not an IP address (give the DNS servers' IP addresses, "
                    "not names)" % (nameserver,))
        nameservers = checked
    dns_port = options.get("dns_port")
    dns_port = 53 if dns_port is None else dns_port
    if isinstance(dns_port, bool) or not isinstance(dns_port, int) or not 1 <= dns_port <= 65535:
        raise ConnectionOptionsError("dns_port: %r is not a port number 1-65535" % (dns_port,))
    timeout = options.get("timeout")
    timeout = 10.0 if timeout is None else timeout
    if (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
            or not math.isfinite(timeout) or timeout <= 0):
        raise ConnectionOptionsError("timeout: %r is not a positive number of seconds"
                                     % (timeout,))
    ca_path = options.get("ca_path") or None
    if ca_path is not None and not os.path.exists(ca_path):
        raise ConnectionOptionsError("ca_path: %s does not exist" % ca_path)
    validate_certs = options.get("validate_certs")
    validate_certs = True if validate_certs is None else bool(validate_certs)
    return {"nameservers": nameservers, "dns_port": dns_port, "ca_path": ca_path,
            "validate_certs": validate_certs, "timeout": float(timeout)}


def transport_from_options(options):
    """A :class:`NetworkTransport` configured from the connection options in ``options``.

    Raises :class:`ConnectionOptionsError` for bad values, ``MissingLibraryError`` when
    dnspython or requests is missing, ``TransportError`` (kind ``config``) when the resolver
    configuration or the CA certificates cannot be loaded.
    """
    checked = validate_connection_options(options)
    return NetworkTransport(**checked)
