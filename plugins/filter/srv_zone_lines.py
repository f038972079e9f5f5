# -*- coding: utf-8 -*-
# Copyright (c) 2026, homeserver.delegation developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Documentation: srv_zone_lines.yml next to this file.

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.homeserver.delegation.plugins.module_utils._srv_record import (
    DEFAULT_TTL,
    FEDERATION_SERVICE,
    SrvRecordError,
    srv_zone_lines as _srv_zone_lines,
)


def srv_zone_lines(targets, server_name, service=FEDERATION_SERVICE, ttl=DEFAULT_TTL):
    """Render a Matrix server name's SRV delegation records as zone-file lines."""
    try:
        return _srv_zone_lines(targets, server_name, service=service, ttl=ttl)
    except SrvRecordError as exc:
        raise AnsibleFilterError("srv_zone_lines: %s" % exc) from exc


class FilterModule:
    """Zone-file rendering of Matrix SRV delegation records."""

    def filters(self):
        return {"srv_zone_lines": srv_zone_lines}
