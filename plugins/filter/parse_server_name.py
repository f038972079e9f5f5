# Copyright (c) homeserver.delegation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.homeserver.delegation.plugins.module_utils._server_name import (
    ServerNameError,
    parse_server_name,
)


def parse_server_name_filter(value, what="server name"):
    """Parse a Matrix server name into ``{host, port, is_ip_literal}``."""
    try:
        return parse_server_name(value, what=what).to_dict()
    except ServerNameError as exc:
        raise AnsibleFilterError(str(exc)) from exc


class FilterModule:
    """Matrix server-name filters."""

    def filters(self):
        return {"parse_server_name": parse_server_name_filter}
