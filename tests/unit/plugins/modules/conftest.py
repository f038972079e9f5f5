# Copyright (c) 2026, homeserver.delegation developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Run a module of the collection as Ansible runs it: a fresh Python process that reads its
arguments as JSON on stdin and prints its result as JSON; optionally with Python libraries
made impossible to import, as on a host where they are not installed. No root, no network."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

_RUNNER = r"""
import importlib.abc
import runpy
import sys

BLOCKED = %(blocked)r


class _NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError("No module named %%r (blocked by the test)" %% name)
        return None


sys.meta_path.insert(0, _NotInstalled())
runpy.run_module("ansible_collections.homeserver.delegation.plugins.modules.%(module)s", run_name="__main__")
"""


@pytest.fixture
def run_module():
    """run_module(name, args, blocked=()) -> (exit code, result dict)."""
    def run(module, args, blocked=(), timeout=60):
        code = _RUNNER % {"blocked": tuple(blocked), "module": module}
        completed = subprocess.run([sys.executable, "-c", code], input=json.dumps({"ANSIBLE_MODULE_ARGS": args}),
                                   capture_output=True, text=True, timeout=timeout, check=False)
        try:
            result = json.loads(completed.stdout)
        except ValueError as exc:
            raise AssertionError("the module printed no JSON result:\nstdout: %s\nstderr: %s"
                                 % (completed.stdout[-2000:], completed.stderr[-2000:])) from exc
        return completed.returncode, result
    return run
