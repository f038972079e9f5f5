# Copyright (c) homeserver.delegation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: server_discovery
author:
  - homeserver.delegation developers (@homeserver-delegation)
version_added: 0.1.0
short_description: Resolve Matrix server names the way federating homeservers do
description:
  - Runs the Matrix Server-Server API algorithm "Resolving server names" (steps 1 to 6, with
    3.1 to 3.5) for each server name and returns where other homeservers will connect, which
    C(Host) header and TLS server name they use, and every problem found on the way.
  - The C(/.well-known/matrix/server) document is fetched over HTTPS on port 443 with the
    certificate verified for the hostname; only a 200 response counts, bodies of 51200 bytes
    or more are refused, redirects (301, 302, 303, 307, 308) are followed across hosts up to
    10 hops but never to C(http://) (nor from a public name to an internal address, see
    O(allow_internal_redirects)), the body must be JSON (no C(NaN) or C(Infinity), at most 64
    levels deep) and the C(m.server) value must follow the server-name grammar. Anything else
    falls back to SRV records, as the specification says.
  - Each request must be complete (connection, TLS handshake, headers and body) within
    O(timeout) seconds; a server that answers a byte at a time gives C(well_known_timeout).
    Everything done for one name shares the budget O(name_timeout), so a name with many slow
    addresses or redirect hops cannot hold the lookup much longer than that.
  - SRV records C(_matrix-fed._tcp) come first; the deprecated C(_matrix._tcp) is used only when
    the first has none. Records are ordered by priority and weight (RFC 2782).
  - Every address (AAAA and A, following CNAMEs) of every target is returned, IPv6 first.
  - All names given to one lookup call resolve concurrently, and the independent queries of
    one resolution (AAAA and A, the addresses of all SRV targets) run in parallel, all on one
    event loop in one thread (no thread per name or query). While at most
    32 names resolve at once, SRV records are also queried ahead (both SRV names together, and
    the hostname's while its well-known is fetched), which saves round trips; with more names
    that would cost more CPU than it saves, so it is not done.
  - The lookup runs on the controller, so DNS and HTTPS are seen from there. Use O(nameservers)
    to ask specific DNS servers (for example public ones when the controller sits behind
    split-horizon DNS).
options:
  _terms:
    description:
      - Matrix server names, for example C(example.com), C(example.com:8448), C(192.0.2.1) or
        C([2001:db8::1]:8448).
    type: list
    elements: str
    required: true
  concurrency:
    description:
      - How many server names resolve at the same time.
      - By default all given names resolve at once, up to 512, and fewer when the process'
        open-file limit is low (each resolution holds up to 4 sockets).
    type: int
extends_documentation_fragment:
  - homeserver.delegation.requirements.dns
  - homeserver.delegation.connection
  - homeserver.delegation.connection.redirects
  - homeserver.delegation.connection.name_timeout
notes:
  - An invalid server name, an SRV record whose target is C(.) (service not available), an SRV
    lookup that fails (SERVFAIL, REFUSED, timeout) or a final target without any address fails
    the lookup with an error naming the server and the reason.
  - SRV lookup failures stop the resolution (as in Synapse) instead of falling back to port
    8448; an SRV target that is a CNAME is followed but reported as an error-severity problem.
  - Hostnames are looked up in lower case (as Synapse does); the C(Host) header keeps the
    spelling of the server name.
  - HTTP proxies from the environment are not used; the connection goes to the resolved address.
  - "Problem codes (C(code), C(severity)): C(invalid_server_name) error;
    C(ip_literal_server_name) warning; C(server_name_uppercase) warning;
    C(server_name_too_long) warning; C(well_known_absent) info (404, or the hostname has no
    address); C(well_known_invalid) warning (a response came but is unusable: status, JSON,
    C(m.server), size, redirects); C(well_known_unreachable) warning; C(well_known_timeout)
    warning; C(well_known_tls_invalid) warning; C(well_known_redirected) info;
    C(redirect_to_internal_address) warning (see O(allow_internal_redirects));
    C(legacy_only) warning; C(target_is_cname) error; C(target_unresolvable) error when no
    target at the lowest SRV priority value has an address, else warning (a backup target
    without address does not break federation); C(srv_invalid_target) warning;
    C(srv_lookup_failed) error; C(srv_unavailable) error;
    C(address_dns_error) warning; C(no_ipv6) info; C(no_ipv4) warning; C(no_address) error;
    C(name_timeout) error (the name's time budget, O(name_timeout), ran out; the message says
    during which query or request)."
seealso:
  - name: Matrix Server-Server API, resolving server names
    description: The algorithm this lookup implements.
    link: https://spec.matrix.org/latest/server-server-api/#resolving-server-names
  - name: Matrix server name grammar
    description: What a valid server name (and C(m.server) value) is.
    link: https://spec.matrix.org/latest/appendices/#server-name
"""

EXAMPLES = r"""
- name: Show where other homeservers connect for example.com
  ansible.builtin.debug:
    msg: "{{ lookup('homeserver.delegation.server_discovery', 'example.com') }}"

- name: Resolve several servers at once through a public resolver
  ansible.builtin.set_fact:
    federation_routes: >-
      {{ query('homeserver.delegation.server_discovery', 'example.com', 'matrix.org',
               nameservers=['9.9.9.9', '1.1.1.1'], timeout=5) }}

- name: Require delegation through the well-known document
  ansible.builtin.assert:
    that:
      - route.method.startswith('well_known_')
      - route.delegated_server == 'matrix.example.com:443'
    fail_msg: "{{ route.steps | join('\n') }}"
  vars:
    route: "{{ lookup('homeserver.delegation.server_discovery', 'example.com') }}"

- name: Check a lab against its own DNS server and test CA
  ansible.builtin.debug:
    msg: "{{ item.server_name }} -> {{ item.targets | map(attribute='address') | list }}"
  loop: "{{ query('homeserver.delegation.server_discovery', 'a.test', 'b.test',
            nameservers=['127.0.0.53'], dns_port=5353, ca_path='/etc/lab/ca.pem') }}"
"""

RETURN = r"""
_raw:
  description: One dictionary per server name, in the order given.
  type: list
  elements: dict
  contains:
    server_name:
      description: The server name as given.
      type: str
      sample: example.com
    method:
      description:
        - Which step of the specification decided the result.
        - C(ip_literal) (step 1), C(explicit_port) (step 2),
          C(well_known_ip_literal) (3.1), C(well_known_explicit_port) (3.2),
          C(well_known_srv) (3.3), C(well_known_srv_legacy) (3.4, deprecated),
          C(well_known_default_port) (3.5), C(srv) (4), C(srv_legacy) (5, deprecated),
          C(default_port) (6).
      type: str
      sample: well_known_srv
    delegated_server:
      description: The C(m.server) value used, or null when no valid well-known was used.
      type: str
      sample: matrix.example.com
    well_known:
      description: The parsed well-known document that was used, or null.
      type: dict
      sample: {"m.server": "matrix.example.com"}
    well_known_error:
      description:
        - "Why a well-known document that was requested was not used, as
          C(<error_code>: <message>), or null."
        - Error codes are C(no_address), C(unreachable), C(timeout), C(tls_invalid),
          C(not_found), C(http_error), C(too_large), C(not_json), C(not_object),
          C(missing_m_server), C(invalid_m_server), C(redirect_loop), C(too_many_redirects),
          C(insecure_redirect).
      type: str
      sample: "not_found: https://example.com/.well-known/matrix/server returned HTTP 404 (not 200); only a 200 response counts"
    cache_seconds:
      description:
        - How long the well-known result may be cached, from C(Cache-Control) or C(Expires),
          clamped to 300 to 172800 seconds, 86400 when the headers give none, 3600 when the
          request failed. Null when no well-known was requested (steps 1 and 2).
      type: int
      sample: 86400
    host_header:
      description: The C(Host) header requests must carry.
      type: str
      sample: matrix.example.com
    tls_server_name:
      description: The hostname or IP address the server's certificate must be valid for.
      type: str
      sample: matrix.example.com
    sni:
      description: The TLS server name indication to send; null for IP literals (no SNI).
      type: str
      sample: matrix.example.com
    targets:
      description:
        - Where to connect, in order of preference. SRV targets in RFC 2782 order; for each,
          every IPv6 address, then every IPv4 address.
      type: list
      elements: dict
      contains:
        host:
          description: The SRV target, or the hostname or IP address connected to.
          type: str
          sample: synapse.example.net
        port:
          description: The TCP port.
          type: int
          sample: 8448
        address:
          description: One resolved IP address.
          type: str
          sample: 2a01:4f8::1
        priority:
          description:
            - The priority of the SRV record that named this target, or null without SRV.
            - Remote servers use a target at a higher value than the lowest only when every
              target at the lowest fails (a backup); M(homeserver.delegation.federation_check)
              reports a failing backup address as the warning C(backup_target_failed).
          type: int
          sample: 10
    problems:
      description: Problems found (see the notes for the codes).
      type: list
      elements: dict
      contains:
        code:
          description: A stable identifier of the problem.
          type: str
          sample: legacy_only
        severity:
          description: C(error), C(warning) or C(info).
          type: str
          sample: warning
        message:
          description: What was found, for a person.
          type: str
    steps:
      description: A readable trace of what was looked up and decided, ending with the
        address used first and why.
      type: list
      elements: str
"""

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.homeserver.delegation.plugins.module_utils._connection import (
    CONNECTION_OPTION_NAMES,
    NAME_TIMEOUT_OPTION_NAMES,
    REDIRECT_OPTION_NAMES,
    ConnectionOptionsError,
    name_timeout_from_options,
    transport_from_options,
)
from ansible_collections.homeserver.delegation.plugins.module_utils._dependencies import (
    DNS_ONLY,
    MissingLibraryError,
    require,
)
from ansible_collections.homeserver.delegation.plugins.module_utils._discovery import (
    DiscoveryError,
    ServerDiscovery,
)
from ansible_collections.homeserver.delegation.plugins.module_utils._transport import TransportError


class LookupModule(LookupBase):
    # Builds the transport from the connection options; unit tests replace it with a fake.
    transport_factory = staticmethod(transport_from_options)

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        options = {name: self.get_option(name) for name in CONNECTION_OPTION_NAMES + REDIRECT_OPTION_NAMES
                   + NAME_TIMEOUT_OPTION_NAMES}
        concurrency = self.get_option("concurrency")
        if concurrency is not None and concurrency < 1:
            raise AnsibleLookupError("server_discovery: concurrency must be at least 1, got %d"
                                     % concurrency)
        try:
            require(DNS_ONLY)
            transport = self.transport_factory(options)
        except MissingLibraryError as exc:
            raise AnsibleLookupError(
                "server_discovery: the Python library %s is required on the controller; "
                "install it with: pip install %s" % (exc.library, exc.library)) from exc
        except (ConnectionOptionsError, TransportError) as exc:
            raise AnsibleLookupError("server_discovery: %s" % exc) from exc

        try:
            name_timeout = name_timeout_from_options(options)
        except ConnectionOptionsError as exc:
            raise AnsibleLookupError("server_discovery: %s" % exc) from exc

        discovery = ServerDiscovery(transport, name_timeout=name_timeout)
        results = discovery.resolve_many(terms, concurrency=concurrency)
        for result in results:
            if isinstance(result, DiscoveryError):
                reason = result.reason
                # Say so when the name's time budget cut the resolution short.
                budget = [problem["message"] for problem in (result.result or {}).get("problems") or []
                          if problem["code"] == "name_timeout"]
                if budget:
                    reason += " (name_timeout: %s)" % budget[0].split(": ", 1)[-1]
                raise AnsibleLookupError("server_discovery: %s: %s"
                                         % (result.server_name, reason)) from result
        return results
