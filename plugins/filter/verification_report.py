# Copyright (c) 2026, homeserver.delegation developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.homeserver.delegation.plugins.module_utils._report import (
    build_report,
    render_lines,
    render_markdown,
)


def verification_report_filter(federation, client_results=None, srv_results=None):
    """Combine verification module results into {data, lines, markdown}."""
    if not isinstance(federation, dict) or "servers" not in federation:
        raise AnsibleFilterError("verification_report: the input must be the registered result of "
                                 "homeserver.delegation.federation_check, got %s" % type(federation).__name__)
    for what, results in (("client_results", client_results), ("srv_results", srv_results)):
        if results is not None and not isinstance(results, list):
            raise AnsibleFilterError("verification_report: %s must be a list of module results" % what)
    data = build_report(federation, client_results, srv_results)
    return {"data": data, "lines": render_lines(data), "markdown": render_markdown(data)}


class FilterModule:
    """Verification report filters."""

    def filters(self):
        return {"verification_report": verification_report_filter}
