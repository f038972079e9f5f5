#!/usr/bin/python
# Copyright (c) 2026, homeserver.delegation developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: srv_info
author: homeserver.delegation developers (@homeserver-delegation)
version_added: 0.1.0
short_description: Describe the Matrix SRV records of a hostname, both service names
description:
  - Looks up C(_matrix-fed._tcp.<name>) (current) and C(_matrix._tcp.<name>) (deprecated) in
    parallel and reports, per service, the DNS result code and the records in preference order
    (priority ascending, then heavier weight first) with priority, weight, port, target, the
    target's AAAA and A addresses, and whether the target is a CNAME.
  - Tells which service homeservers use (C(effective_service)) and reports problems, each with a
    C(code), a C(severity) (C(error) or C(warning)) and a message that says what to fix.
  - A hostname without any Matrix SRV record is not a problem (SRV delegation is optional)
    unless O(expected_target) or O(expected_port) is given.
  - Nothing is changed anywhere; the module runs where the task runs (usually the controller).
options:
  name:
    description:
      - The hostname to look up, for example C(example.com) (a server name or a delegated
        C(m.server) hostname without a port).
      - Names with a port and IP literals are refused, since SRV records are never used for them.
    type: str
    required: true
  expected_target:
    description:
      - The target every record of the effective service must point to; a trailing dot is ignored.
    type: str
  expected_port:
    description:
      - The port every record of the effective service must use.
    type: int
extends_documentation_fragment:
  - homeserver.delegation.requirements.dns
  - homeserver.delegation.connection
  - homeserver.delegation.connection.info_module
  - ansible.builtin.action_common_attributes
notes:
  - "Problem codes: C(srv_lookup_failed) (SERVFAIL, REFUSED, timeout: Synapse then fails to
    connect), C(srv_unavailable) (target C(.)), C(target_is_cname) (forbidden by RFC 2782),
    C(target_unresolvable) (no AAAA or A), C(mismatch) (differs from O(expected_target) or
    O(expected_port)), and the warnings C(legacy_only) (only the deprecated C(_matrix._tcp))
    and C(services_differ) (both services exist with different records)."
  - Each code is explained in the collection's C(docs/troubleshooting.md).
seealso:
  - module: homeserver.delegation.federation_check
  - module: homeserver.delegation.well_known_info
  - name: Matrix Server-Server API, resolving server names
    description: Steps 3.3, 3.4, 4 and 5 use SRV records.
    link: https://spec.matrix.org/latest/server-server-api/#resolving-server-names
"""

EXAMPLES = r"""
- name: Describe the SRV records of example.com
  homeserver.delegation.srv_info:
    name: example.com
  register: srv

- name: Show the targets homeservers use
  ansible.builtin.debug:
    msg: "{{ srv.services[srv.effective_service].records | map(attribute='target') | list }}"
  when: srv.effective_service is not none

- name: Require the SRV record to point at matrix.example.com port 443, asking the zone's own server
  homeserver.delegation.srv_info:
    name: example.com
    expected_target: matrix.example.com
    expected_port: 443
    nameservers: [192.0.2.53]
  register: srv
  failed_when: srv.problems | selectattr('severity', 'equalto', 'error') | list | length > 0
"""

RETURN = r"""
name:
  description: The hostname looked up (lower-cased).
  returned: always
  type: str
  sample: example.com
effective_service:
  description: The service homeservers use (C(_matrix-fed._tcp), else C(_matrix._tcp)), or null when neither has records.
  returned: always
  type: str
  sample: _matrix-fed._tcp
services:
  description: One report per service, keyed C(_matrix-fed._tcp) and C(_matrix._tcp).
  returned: always
  type: dict
  contains:
    name:
      description: The DNS name queried.
      type: str
      sample: _matrix-fed._tcp.example.com
    rcode:
      description: The DNS result, C(NOERROR), C(NODATA), C(NXDOMAIN), C(SERVFAIL), C(REFUSED), C(TIMEOUT) or C(ERROR).
      type: str
      sample: NOERROR
    error:
      description: Details of a failed lookup, or null.
      type: str
    records:
      description: The records in preference order.
      type: list
      elements: dict
      contains:
        priority:
          description: The priority (lower is tried first).
          type: int
        weight:
          description: The weight within a priority.
          type: int
        port:
          description: The port to connect to.
          type: int
          sample: 443
        target:
          description: The target hostname without the trailing dot (C(.) means unavailable).
          type: str
          sample: matrix.example.com
        addresses:
          description: The target's AAAA and A addresses, IPv6 first.
          type: list
          elements: str
        is_cname:
          description: Whether the target is an alias (CNAME).
          type: bool
        cname_chain:
          description: The CNAME targets followed, when the target is an alias.
          type: list
          elements: str
problems:
  description: The problems found.
  returned: always
  type: list
  elements: dict
  contains:
    code:
      description: A stable identifier of the problem (see the notes).
      type: str
      sample: legacy_only
    severity:
      description: C(error) or C(warning).
      type: str
    message:
      description: What is wrong and what to do, for a person.
      type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.homeserver.delegation.plugins.module_utils._connection import (
    connection_argument_spec,
    run_module_check,
)
from ansible_collections.homeserver.delegation.plugins.module_utils._dependencies import DNS_ONLY
from ansible_collections.homeserver.delegation.plugins.module_utils._srv_info import srv_info


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(
        name={"type": "str", "required": True},
        expected_target={"type": "str"},
        expected_port={"type": "int"},
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    expected_port = module.params["expected_port"]
    if expected_port is not None and not 1 <= expected_port <= 65535:
        module.fail_json(msg="expected_port: %d is not a port number 1-65535" % expected_port)
    result = run_module_check(module, lambda transport: srv_info(
        transport, module.params["name"], module.params["expected_target"], expected_port), DNS_ONLY)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
