#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, homeserver.delegation developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: srv_record
short_description: Manage the SRV records that delegate Matrix federation, by RFC 2136 dynamic update
version_added: 0.1.0
description:
  - Publishes, changes or removes the C(_matrix-fed._tcp) SRV records of a Matrix server name on
    the zone's authoritative DNS server, with a TSIG-signed RFC 2136 dynamic update (BIND, Knot,
    PowerDNS and others accept these).
  - It reads the records from the authoritative O(server) first (a signed query over TCP), compares
    them with O(targets) as a set, and sends only the difference, in one update whose
    prerequisite is the record set it read, so a change someone else makes at the same time is
    never overwritten. After the update it reads the records back to confirm them.
  - A TTL change replaces the whole record set in the same update.
  - "B(The certificate must be valid for the server name, not for the SRV target.) Matrix servers
    that follow an SRV record still check the certificate against O(server_name). This is the
    most common SRV failure; verify it with M(homeserver.delegation.federation_check)."
  - SRV records delegate federation only. Clients still need C(/.well-known/matrix/client).
  - The P(homeserver.delegation.srv_zone_lines#filter) filter renders the same records as zone-file lines
    for zones maintained by file.
author:
  - homeserver.delegation developers (@homeserver-delegation)
extends_documentation_fragment:
  - homeserver.delegation.requirements.dns
attributes:
  check_mode:
    support: full
    description: The records are read (which proves the key works) but no update is sent.
  diff_mode:
    support: full
    description: Shows the record set before and after as zone-file lines.
options:
  server:
    description:
      - IP address of the zone's primary DNS server, the one that accepts dynamic updates.
      - The records are read from this server too, never from a resolver.
    type: str
    required: true
  port:
    description: TCP port of O(server).
    type: int
    default: 53
  zone:
    description:
      - The DNS zone that contains the SRV owner name, for example C(example.com).
      - A record outside the zone is refused before anything is sent.
    type: str
    required: true
  key_name:
    description: Name of the TSIG key, as the DNS server knows it.
    type: str
    required: true
  key_secret:
    description: Base64 secret of the TSIG key.
    type: str
    required: true
  key_algorithm:
    description: HMAC algorithm of the TSIG key.
    type: str
    default: hmac-sha256
    choices: [hmac-sha256, hmac-sha512, hmac-sha384, hmac-sha224, hmac-sha1, hmac-md5]
  server_name:
    description:
      - The Matrix server name to delegate, for example C(example.com) (the part after C(:) in
        user IDs). The records are published at C(<service>.<server_name>).
      - It must be a host name without a port. Matrix servers never look up SRV records for a
        server name with an explicit port or for an IP literal, so both are errors.
    type: str
    required: true
  targets:
    description:
      - The SRV records wanted. With O(state=present) the record set becomes exactly this list.
      - With O(state=absent), the records listed are removed; when the list is empty, every SRV
        record of O(service) at the name is removed.
    type: list
    elements: dict
    default: []
    suboptions:
      target:
        description:
          - Host name of the Matrix server (it must have A or AAAA records, and must not be a
            CNAME). Taken as fully qualified, with or without the final dot.
          - C(.) (service not available) is accepted only with O(state=absent).
        type: str
        required: true
      port:
        description: Federation port on O(targets[].target), 1-65535 (often 8448 or 443).
        type: int
        required: true
      priority:
        description: Lower is tried first (RFC 2782).
        type: int
        default: 10
      weight:
        description:
          - Share of the connections among targets of equal priority. Use 0 when there is no
            choice to make (RFC 2782); zero-weight targets are tried after weighted ones.
        type: int
        default: 0
  service:
    description:
      - The SRV service label. C(_matrix._tcp) is deprecated; Matrix servers ask for it only
        when C(_matrix-fed._tcp) has no records.
    type: str
    default: _matrix-fed._tcp
    choices: [_matrix-fed._tcp, _matrix._tcp]
  ttl:
    description: TTL of the record set in seconds.
    type: int
    default: 3600
  timeout:
    description: Seconds to wait for each answer from O(server).
    type: float
    default: 10
  state:
    description: Whether the records should exist.
    type: str
    default: present
    choices: [present, absent]
seealso:
  - module: homeserver.delegation.srv_info
  - module: homeserver.delegation.federation_check
  - plugin: homeserver.delegation.srv_zone_lines
    plugin_type: filter
  - name: RFC 2136, Dynamic Updates in the DNS
    description: The update protocol this module speaks.
    link: https://www.rfc-editor.org/rfc/rfc2136
  - name: Matrix specification, resolving server names
    description: How Matrix servers use the SRV records, and which certificate they expect.
    link: https://spec.matrix.org/latest/server-server-api/#resolving-server-names
"""

EXAMPLES = r"""
- name: Delegate example.com federation to synapse.example.com port 8448
  homeserver.delegation.srv_record:
    server: 192.0.2.53
    zone: example.com
    key_name: ansible-update
    key_secret: "{{ vault_tsig_secret }}"
    server_name: example.com
    targets:
      - target: synapse.example.com
        port: 8448

- name: Two servers, the second a fallback
  homeserver.delegation.srv_record:
    server: 192.0.2.53
    zone: example.com
    key_name: ansible-update
    key_secret: "{{ vault_tsig_secret }}"
    key_algorithm: hmac-sha512
    server_name: example.com
    ttl: 300
    targets:
      - {target: matrix1.example.com, port: 443, priority: 10}
      - {target: matrix2.example.com, port: 443, priority: 20}

- name: Remove the deprecated _matrix._tcp records
  homeserver.delegation.srv_record:
    server: 192.0.2.53
    zone: example.com
    key_name: ansible-update
    key_secret: "{{ vault_tsig_secret }}"
    server_name: example.com
    service: _matrix._tcp
    state: absent
"""

RETURN = r"""
fqdn:
  description: The SRV owner name.
  returned: always
  type: str
  sample: _matrix-fed._tcp.example.com.
zone:
  description: The zone, absolute.
  returned: always
  type: str
  sample: example.com.
ttl:
  description: TTL of the record set afterwards, or null when no record is left.
  returned: always
  type: int
  sample: 3600
records:
  description: The SRV records afterwards (what would be there, in check mode), sorted.
  returned: always
  type: list
  elements: dict
  sample: [{priority: 10, weight: 0, port: 8448, target: synapse.example.com.}]
before:
  description: The record set before, as zone-file lines.
  returned: always
  type: list
  elements: str
  sample: []
after:
  description: The record set afterwards, as zone-file lines.
  returned: always
  type: list
  elements: str
  sample: ["_matrix-fed._tcp.example.com. 3600 IN SRV 10 0 8448 synapse.example.com."]
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.homeserver.delegation.plugins.module_utils._dependencies import (
    DNS_ONLY,
    MissingLibraryError,
    require,
)
from ansible_collections.homeserver.delegation.plugins.module_utils._srv_record import (
    SrvRecordError,
    ensure_srv_records,
    srv_argument_spec,
)


def main():
    module = AnsibleModule(argument_spec=srv_argument_spec(), supports_check_mode=True)
    try:
        require(DNS_ONLY)
    except MissingLibraryError as exc:
        module.fail_json(msg=missing_required_lib(exc.library), exception=exc.import_traceback)
    try:
        result = ensure_srv_records(module.params, check_mode=module.check_mode)
    except SrvRecordError as exc:
        module.fail_json(msg=str(exc))
    for warning in result.pop("warnings"):
        module.warn(warning)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
