# Copyright (c) homeserver.delegation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # Options of the DNS and HTTPS transport used for Matrix server discovery. The matching
    # module argument spec is built by module_utils._connection.connection_argument_spec().
    DOCUMENTATION = r"""
options:
  nameservers:
    description:
      - IP addresses of the DNS servers to query for SRV, CNAME, AAAA and A records.
      - When not set, the resolver configuration of the system (C(/etc/resolv.conf)) is used.
      - Useful to check what the public sees from behind split-horizon DNS.
    type: list
    elements: str
  dns_port:
    description:
      - UDP/TCP port of the DNS servers.
    type: int
    default: 53
  ca_path:
    description:
      - A PEM file (or a directory prepared with C(openssl rehash)) of CA certificates to
        trust instead of the system CAs when verifying TLS certificates.
    type: path
  validate_certs:
    description:
      - Verify TLS certificates (chain and name). Only turn this off for testing; Matrix
        servers verify certificates when they federate.
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait for each network operation (one DNS query, one HTTPS request).
    type: float
    default: 10
requirements:
  - dnspython >= 2.3
  - requests >= 2.28
"""

    # Attributes of the verification modules (well_known_info, srv_info, federation_check):
    # they only read, so check mode changes nothing about what they do.
    INFO_MODULE = r"""
attributes:
  check_mode:
    support: full
    details: The module only reads; it behaves the same in check mode.
  diff_mode:
    support: none
  platform:
    platforms: posix
"""
