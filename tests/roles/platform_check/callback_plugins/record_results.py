# Copyright (c) 2026, homeserver.delegation developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Test callback: one JSON line per task result, in the order they come, to RECORD_RESULTS_PATH."""

from __future__ import annotations

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
    name: record_results
    type: notification
    short_description: Record every task result as a JSON line (tests only)
    description:
        - Appends host, role, task name, action, status, changed and msg (and those of loop items)
          of every task result to
          the file named by the environment variable RECORD_RESULTS_PATH.
"""


class CallbackModule(CallbackBase):
    """Record every task result as a JSON line."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "record_results"
    CALLBACK_NEEDS_ENABLED = True

    def _record(self, result, status):
        # ansible-core 2.19 calls them host, task and result; earlier versions only _host...
        host = getattr(result, "host", None) or result._host
        task = getattr(result, "task", None) or result._task
        data = getattr(result, "result", None)
        if not isinstance(data, dict):
            data = result._result
        role = task._role.get_name() if task._role is not None else None
        line = {
            "host": host.get_name(),
            "role": role,
            "task": task.name,
            "action": task.action,
            "status": status,
            "changed": bool(data.get("changed", False)),
            "msg": str(data.get("msg", "")),
            # A loop's items each have their own (ansible-core 2.21 drops "failed" from an item).
            "item_msgs": [str(item.get("msg", "")) for item in data.get("results", []) if isinstance(item, dict)],
        }
        with open(os.environ["RECORD_RESULTS_PATH"], "a", encoding="utf-8") as stream:
            stream.write(json.dumps(line) + "\n")

    def v2_runner_on_ok(self, result):
        self._record(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._record(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._record(result, "unreachable")
