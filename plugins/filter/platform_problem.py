# Copyright (c) 2026, homeserver.delegation developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from ansible_collections.homeserver.delegation.plugins.module_utils._platforms import platform_problem


def platform_problem_filter(facts, web_server=None, variable=None):
    """Why the roles cannot run on the host these facts describe, or an empty string."""
    return platform_problem(facts, web_server, variable)


class FilterModule:
    """The supported platforms of the roles."""

    def filters(self):
        return {"platform_problem": platform_problem_filter}
