#!/usr/bin/python
# Copyright (c) 2026, homeserver.delegation developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: federation_check
author: homeserver.delegation developers (@homeserver-delegation)
version_added: 0.1.0
short_description: Test Matrix federation to server names the way remote homeservers connect
description:
  - A federation tester you run yourself. For each server name it resolves where other
    homeservers connect (the C(homeserver.delegation.server_discovery) lookup's algorithm), then
    checks B(every) target address, IPv6 and IPv4.
  - "Per address: a TLS connection with the SNI homeservers send (none for IP literals), the
    certificate chain and name (hostname or IP) verified and its expiry read; C(GET
    /_matrix/federation/v1/version) and C(GET /_matrix/key/v2/server) with the C(Host) header
    homeservers send. The key response must name this server, be valid in the future, list at
    least one ed25519 key, and carry its own valid signature (canonical JSON, ed25519)."
  - Also returns the server well-known fetched from every address of the hostname (see
    M(homeserver.delegation.well_known_info)) and the SRV records that matter for the name (see
    M(homeserver.delegation.srv_info)).
  - "C(federation_ok) is false when the name is invalid or unresolvable, when any target
    address fails, when the well-known answers 200 with an invalid document (Synapse then fails
    to federate instead of falling back), or when the addresses of the hostname serve different
    well-knowns. Warnings (for example a certificate expiring within 14 days) never make it
    false."
  - "Backup SRV targets: remote servers try SRV targets by priority, the lowest value first, and
    connect to a target at a higher value only when every target at the lowest fails. Every
    address of every target is checked, but an address of such a backup target that fails gives
    the name a C(backup_target_failed) warning (its connection report keeps the underlying
    problems), not an error. Every address at the lowest priority value must work."
  - Names are checked concurrently, and the addresses of each name too.
  - "From 200 names on, the names are shared among several processes (one per 100 names, at most
    one per CPU the task may use and at most 4), because so many names keep one process' CPU
    busy. The result is the same; with O(concurrency) set, no more processes are started than
    names are checked at once."
  - Nothing is changed anywhere; the module runs where the task runs (usually the controller).
options:
  server_names:
    description:
      - The Matrix server names to check, for example C(example.com) or C(example.com:8448).
    type: list
    elements: str
    required: true
    aliases: [server_name]
  concurrency:
    description:
      - How many server names are checked at the same time.
      - By default all of them, up to 512, and fewer when the process' open-file limit is low.
    type: int
  fail_on_error:
    description:
      - Fail the task when federation does not work for at least one name.
      - With V(false) the task succeeds and the result tells what is wrong.
    type: bool
    default: true
extends_documentation_fragment:
  - homeserver.delegation.requirements.federation
  - homeserver.delegation.connection
  - homeserver.delegation.connection.redirects
  - homeserver.delegation.connection.name_timeout
  - homeserver.delegation.connection.info_module
  - ansible.builtin.action_common_attributes
notes:
  - "Problem codes of a target address: C(connection_failed), C(connection_timeout),
    C(tls_handshake_failed), C(certificate_untrusted), C(certificate_name_mismatch),
    C(certificate_expired), C(certificate_not_yet_valid), C(certificate_expires_soon) (warning,
    under 14 days), C(version_unavailable), C(version_invalid), C(keys_unavailable),
    C(keys_invalid), C(keys_server_name_mismatch), C(keys_expired), C(keys_no_ed25519),
    C(keys_signature_invalid); for an address of a backup SRV target the name gets
    C(backup_target_failed) (warning) instead. C(connection_timeout) also covers a server that does not
    complete the TLS handshake and both answers within O(timeout). A body that is not valid JSON
    (C(NaN), C(Infinity), nested more than 64 levels deep) gives C(version_invalid) or
    C(keys_invalid)."
  - "Problem codes of a name: C(invalid_server_name), C(unresolvable), the well-known errors
    C(not_json), C(not_object), C(missing_m_server), C(invalid_m_server), C(too_large) (the
    document answered 200 but is unusable) and C(inconsistent); C(redirect_to_internal_address)
    (warning, see O(allow_internal_redirects)); warnings from the well-known
    (C(cache_period), C(wrong_content_type), an address that does not answer), from SRV
    (C(services_differ), and every problem of the SRV service homeservers do not use); the SRV
    problems C(srv_lookup_failed), C(srv_unavailable), C(target_is_cname), C(target_unresolvable)
    (reported once, with the codes of M(homeserver.delegation.srv_info)); and every problem of
    the discovery lookup (for example C(no_address)); C(name_timeout) (error) when the
    name's time budget O(name_timeout) ran out, naming the step it cut short (discovery, the
    well-known and SRV reports and the target connections of a name share one budget)."
  - Each code is explained, with the fix, in the collection's C(docs/troubleshooting.md).
  - With O(validate_certs=false) certificate problems are reported as warnings.
seealso:
  - module: homeserver.delegation.well_known_info
  - module: homeserver.delegation.srv_info
  - plugin: homeserver.delegation.server_discovery
    plugin_type: lookup
  - name: Matrix Server-Server API, retrieving server keys
    description: What C(/_matrix/key/v2/server) must return.
    link: https://spec.matrix.org/latest/server-server-api/#retrieving-server-keys
"""

EXAMPLES = r"""
- name: Check that other homeservers can federate with ours
  homeserver.delegation.federation_check:
    server_names:
      - example.com
      - example.org

- name: Collect the report without failing, through a public resolver
  homeserver.delegation.federation_check:
    server_name: example.com
    fail_on_error: false
    nameservers: [9.9.9.9, 1.1.1.1]
  register: federation

- name: Show every address that failed
  ansible.builtin.debug:
    msg: "{{ item.address }}: {{ item.problems | map(attribute='code') | join(', ') }}"
  loop: "{{ federation.servers['example.com'].connections | rejectattr('ok') | list }}"
"""

RETURN = r"""
federation_ok:
  description: Whether federation works for every name given.
  returned: always
  type: bool
  sample: true
msg:
  description: "One line per name, for example C(example.com: federation OK via well_known_explicit_port (2 addresses checked))."
  returned: always
  type: str
processes:
  description:
    - How many processes the names were shared among, the module's own included.
    - More than one only from 200 names on (see the notes).
  returned: always
  type: int
  sample: 1
servers:
  description: One report per server name, keyed by the name as given.
  returned: always
  type: dict
  contains:
    server_name:
      description: The name as given.
      type: str
    federation_ok:
      description: Whether federation works for this name (see the description).
      type: bool
    discovery:
      description: What the C(homeserver.delegation.server_discovery) lookup returns for the name
        (C(method), C(delegated_server), C(host_header), C(tls_server_name), C(sni), C(targets),
        C(problems), C(steps)...), or its partial result when resolution failed.
      type: dict
    well_known:
      description: The server document as M(homeserver.delegation.well_known_info) reports it, or
        null for IP literals and names with a port (no well-known is used for them).
      type: dict
    srv:
      description: The SRV records of the hostname discovery consulted, as M(homeserver.delegation.srv_info)
        reports them, or null when SRV does not apply.
      type: dict
    connections:
      description: One report per target address, in connection-preference order.
      type: list
      elements: dict
      contains:
        host:
          description: The target host (SRV target, delegated hostname, or the name's hostname).
          type: str
        port:
          description: The port.
          type: int
          sample: 8448
        address:
          description: The IP address connected to.
          type: str
        priority:
          description: The priority of the SRV record of this target, or null without SRV.
          type: int
          sample: 10
        backup:
          description: Whether the target is a backup, an SRV target at a higher priority value than
            the lowest; its failure is the warning C(backup_target_failed), not an error.
          type: bool
        ok:
          description: Whether this address passed every check.
          type: bool
        tls:
          description: The TLS session (C(version), C(cipher), C(verified), C(sni), C(verify_message)), or null.
          type: dict
        certificate:
          description: The certificate presented (C(subject), C(issuer), C(not_before), C(not_after),
            C(days_remaining), C(dns_names), C(ip_addresses)), or null.
          type: dict
        version:
          description: The C(/_matrix/federation/v1/version) answer (C(status), C(server) with C(name) and C(version)).
          type: dict
        server_keys:
          description: The C(/_matrix/key/v2/server) answer (C(status), C(server_name), C(valid_until_ts),
            C(verify_keys), C(old_verify_keys), C(verified_signatures)).
          type: dict
        problems:
          description: The problems of this address.
          type: list
          elements: dict
    problems:
      description: Every problem of the name (its addresses' included), each with C(code),
        C(severity) (C(error), C(warning) or C(info)) and C(message).
      type: list
      elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.homeserver.delegation.plugins.module_utils._connection import (
    connection_argument_spec,
    name_timeout_argument_spec,
    name_timeout_from_options,
    redirect_argument_spec,
    run_module_check,
)
from ansible_collections.homeserver.delegation.plugins.module_utils._dependencies import FEDERATION
from ansible_collections.homeserver.delegation.plugins.module_utils._federation import federation_check


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(redirect_argument_spec())
    argument_spec.update(name_timeout_argument_spec())
    argument_spec.update(
        server_names={"type": "list", "elements": "str", "required": True, "aliases": ["server_name"]},
        concurrency={"type": "int"},
        fail_on_error={"type": "bool", "default": True},
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if not module.params["server_names"]:
        module.fail_json(msg="server_names: give at least one server name")
    concurrency = module.params["concurrency"]
    if concurrency is not None and concurrency < 1:
        module.fail_json(msg="concurrency: %d is not a positive number" % concurrency)
    result = run_module_check(module, lambda transport: federation_check(
        transport, module.params["server_names"], concurrency,
        name_timeout=name_timeout_from_options(module.params)), FEDERATION)
    if module.params["fail_on_error"] and not result["federation_ok"]:
        module.fail_json(changed=False, **result)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
