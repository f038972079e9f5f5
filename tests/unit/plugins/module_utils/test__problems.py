# Copyright (c) 2026, homeserver.delegation developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The problem registry and docs/troubleshooting.md describe the same codes."""

from __future__ import annotations

import os
import re

import pytest

from ansible_collections.homeserver.delegation.plugins.module_utils import _problems
from ansible_collections.homeserver.delegation.plugins.module_utils._problems import PROBLEMS, problem

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
DOC = os.path.join(ROOT, _problems.TROUBLESHOOTING_DOC)


def _sections():
    """{heading: first paragraph} of every ### section of the troubleshooting page."""
    with open(DOC, encoding="utf-8") as handle:
        text = handle.read()
    sections = {}
    for chunk in re.split(r"^### ", text, flags=re.M)[1:]:
        heading, _newline, body = chunk.partition("\n")
        sections[heading.strip()] = body.strip()
    return sections, text


def _github_anchor(heading):
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def test_every_registered_code_has_a_troubleshooting_section():
    sections, _text = _sections()
    anchors = set(_github_anchor(heading) for heading in sections)
    missing = sorted(code for code, kind in PROBLEMS.items() if kind.anchor not in anchors)
    assert missing == []


def test_every_troubleshooting_section_is_a_registered_code():
    sections, _text = _sections()
    unknown = sorted(heading for heading in sections if heading not in PROBLEMS)
    assert unknown == []


def test_each_section_states_the_registered_severity_first():
    sections, _text = _sections()
    wrong = []
    for code, kind in PROBLEMS.items():
        first = re.match(r"\*\*(\w+)", sections.get(code, ""))
        if first is None or first.group(1).lower() != kind.severity:
            wrong.append((code, kind.severity, first.group(1) if first else None))
    assert wrong == []


def test_the_contents_list_links_every_code():
    _sections_found, text = _sections()
    listed = set(re.findall(r"\[(\w+)\]\(#(\w+)\)", text.split("## Web-server recipes")[0]))
    assert sorted(code for code in PROBLEMS if (code, code) not in listed) == []


def test_every_code_the_plugins_emit_is_registered():
    """A code written as a literal in problem(...) anywhere under plugins/ must be registered
    (the paths the unit tests do not reach would otherwise fail only in production)."""
    emitted = set()
    for directory in ("plugins/module_utils", "plugins/modules", "plugins/lookup", "plugins/filter"):
        for name in os.listdir(os.path.join(ROOT, directory)):
            if name.endswith(".py"):
                with open(os.path.join(ROOT, directory, name), encoding="utf-8") as handle:
                    emitted.update(re.findall(r"\bproblem\(\s*\"(\w+)\"", handle.read()))
    assert emitted, "the scan found no problem(...) call at all"
    assert sorted(emitted - set(PROBLEMS)) == []


def test_problem_uses_the_registered_severity_unless_told_otherwise():
    assert problem("legacy_only", "m") == {"code": "legacy_only", "severity": "warning", "message": "m"}
    assert problem("connection_failed", "m", "warning")["severity"] == "warning"


@pytest.mark.parametrize("code, severity, error", [
    ("no_such_code", None, KeyError),
    ("legacy_only", "fatal", ValueError),
])
def test_problem_refuses_an_unknown_code_or_severity(code, severity, error):
    with pytest.raises(error):
        problem(code, "message", severity)
