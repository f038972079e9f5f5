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
      - The deadline, in seconds, of each network operation as a whole. One DNS query with its
        retries must be answered within it; one HTTPS request must be complete within it, from
        the connection through the TLS handshake and the headers to the last byte of the body,
        so a server that sends its answer slowly, a byte at a time, is reported as a timeout
        instead of holding the task.
      - For a federation target, the TLS connection and both requests made over it
        (C(/_matrix/federation/v1/version) and C(/_matrix/key/v2/server)) share one deadline.
    type: float
    default: 10
"""

    # Options of the modules and the lookup that fetch well-known documents. The matching
    # argument spec is module_utils._connection.redirect_argument_spec().
    REDIRECTS = r"""
options:
  allow_internal_redirects:
    description:
      - When the hostname of a server name resolves to at least one public address, its
        well-known documents may not redirect to an internal address (a redirect target that
        is an internal IP literal or resolves to one). Such a redirect is refused with the
        problem code C(redirect_to_internal_address) before any connection to it, as a public
        server could otherwise make the check read a document from the controller's own
        network.
      - "Internal means exactly: C(127.0.0.0/8), C(::1), C(0.0.0.0/8), C(::), C(10.0.0.0/8),
        C(172.16.0.0/12), C(192.168.0.0/16), C(100.64.0.0/10) (CGNAT), C(169.254.0.0/16),
        C(fc00::/7), C(fe80::/10), and these written as IPv4-mapped IPv6 addresses
        (C(::ffff:127.0.0.1)). Every other address counts as public for this rule."
      - A hostname whose addresses are all internal (a lab, a private network) may redirect to
        internal addresses without this option.
      - Set to C(true) in labs where a public-looking name redirects into a private network.
      - Redirects to C(http://) are always refused (C(insecure_redirect)).
    type: bool
    default: false
"""

    # Option of the modules and the lookup that check whole server names (well_known_info,
    # federation_check, server_discovery). The matching argument spec is
    # module_utils._connection.name_timeout_argument_spec().
    NAME_TIMEOUT = r"""
options:
  name_timeout:
    description:
      - The time budget, in seconds, of everything done for one server name (every DNS query,
        every HTTPS request (each address of a host, each redirect hop) and, for
        M(homeserver.delegation.federation_check), every connection to a target address). Each
        of them gets O(timeout) or the time left of the name's budget, whichever is shorter, so
        a name whose several addresses all answer a byte at a time costs at most this long
        instead of O(timeout) per address and per hop.
      - When the budget runs out, nothing more is started for that name; what was cut short is
        reported as timed out and the problem C(name_timeout) (error) names the query or request
        that was running. Results already obtained (addresses already checked) are kept.
      - Names checked together each have their own budget.
      - Default is four times O(timeout) (40 seconds with the default O(timeout)). Discovery has
        up to four dependent steps that a slow but honest server may each stretch close to
        O(timeout) (the addresses of the hostname, its well-known, the SRV records, the addresses
        of the target; federation_check then connects to the targets, in parallel), so a
        budget of O(timeout) alone would fail working servers.
    type: float
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
