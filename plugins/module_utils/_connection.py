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

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.homeserver.delegation.plugins.module_utils._dependencies import (
    MissingLibraryError,
    require,
)
from ansible_collections.homeserver.delegation.plugins.module_utils._name_budget import (
    default_name_timeout,
)
from ansible_collections.homeserver.delegation.plugins.module_utils._transport import (
    NetworkTransport,
    TransportError,
)

CONNECTION_OPTION_NAMES = ("nameservers", "dns_port", "ca_path", "validate_certs", "timeout")
#: Options of the modules and the lookup that fetch well-known documents (the ``redirects``
#: part of the doc fragment).
REDIRECT_OPTION_NAMES = ("allow_internal_redirects",)
#: The option of the modules and the lookup that check whole server names (the
#: ``name_timeout`` part of the doc fragment).
NAME_TIMEOUT_OPTION_NAMES = ("name_timeout",)


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


def redirect_argument_spec():
    """The module argument spec of the options in the ``connection.redirects`` doc fragment."""
    return {"allow_internal_redirects": {"type": "bool", "default": False}}


def name_timeout_argument_spec():
    """The module argument spec of the option in the ``connection.name_timeout`` doc fragment."""
    return {"name_timeout": {"type": "float"}}


def name_timeout_from_options(options):
    """The time budget in seconds of one server name: ``name_timeout``, or by default
    ``_name_budget.NAME_TIMEOUT_FACTOR`` times ``timeout``. Raises :class:`ConnectionOptionsError`
    naming the option for a value that is not a positive number."""
    name_timeout = options.get("name_timeout")
    if name_timeout is None:
        timeout = options.get("timeout")
        return default_name_timeout(10.0 if timeout is None else timeout)
    if (isinstance(name_timeout, bool) or not isinstance(name_timeout, (int, float))
            or not math.isfinite(name_timeout) or name_timeout <= 0):
        raise ConnectionOptionsError("name_timeout: %r is not a positive number of seconds" % (name_timeout,))
    return float(name_timeout)


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
    dnspython is missing, ``TransportError`` (kind ``config``) when the resolver
    configuration or the CA certificates cannot be loaded.
    """
    checked = validate_connection_options(options)
    allow_internal_redirects = options.get("allow_internal_redirects")
    if allow_internal_redirects is not None and not isinstance(allow_internal_redirects, bool):
        raise ConnectionOptionsError("allow_internal_redirects: %r is not a boolean" % (allow_internal_redirects,))
    return NetworkTransport(allow_internal_redirects=bool(allow_internal_redirects), **checked)


def run_module_check(module, check, libraries):
    """Return ``check(transport)`` for a verification module, with the transport built from
    ``module.params``; every error becomes ``module.fail_json`` with a message that names the
    option or input at fault. ``libraries`` (``_dependencies.DNS_ONLY``...) are the Python
    libraries the module needs: a missing one fails first, with ``missing_required_lib``."""
    try:
        require(libraries)
        return check(transport_from_options(module.params))
    except MissingLibraryError as exc:
        module.fail_json(msg=missing_required_lib(exc.library), exception=exc.import_traceback)
    except (ConnectionOptionsError, TransportError, ValueError) as exc:
        module.fail_json(msg=str(exc))
    return None  # not reached: fail_json exits
