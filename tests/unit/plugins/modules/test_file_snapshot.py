# Copyright (c) 2026, homeserver.delegation developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""file_snapshot run as Ansible runs it: save, change, put back; its argument handling."""

from __future__ import annotations

import os


def test_save_then_restore_through_the_module(run_module, tmp_path):
    site, new = tmp_path / "site.conf", tmp_path / "new.conf"
    site.write_text("server {}\n")
    os.chmod(site, 0o600)
    code, saved = run_module("file_snapshot", {"paths": [str(site), str(new)], "read": True})
    assert code == 0 and saved["changed"] is False
    assert [entry["exists"] for entry in saved["files"]] == [True, False]

    site.write_text("broken\n")
    new.write_text("new\n")
    code, checked = run_module("file_snapshot", {"restore": saved["files"], "_ansible_check_mode": True})
    assert code == 0 and checked["changed"] is True and checked["restored"] == [str(site), str(new)]
    assert site.read_text() == "broken\n"

    code, restored = run_module("file_snapshot", {"restore": saved["files"]})
    assert code == 0 and restored["changed"] is True and restored["restored"] == [str(site), str(new)]
    assert site.read_text() == "server {}\n" and os.stat(site).st_mode & 0o777 == 0o600 and not new.exists()

    code, again = run_module("file_snapshot", {"restore": saved["files"]})
    assert code == 0 and again["changed"] is False and again["restored"] == []


def test_a_bad_entry_fails_with_a_message_naming_the_path(run_module, tmp_path):
    path = str(tmp_path / "site.conf")
    code, result = run_module("file_snapshot", {"restore": [{"path": path, "exists": True, "type": "file",
                                                            "mode": "0644", "owner": "root", "group": "root"}]})
    assert code == 1 and result["msg"] == "%s: the saved file has no content (saved without read?)" % path
    assert result.get("changed") in (None, False)


def test_paths_and_restore_are_one_or_the_other(run_module, tmp_path):
    code, both = run_module("file_snapshot", {"paths": [str(tmp_path)], "restore": []})
    assert code == 1 and "mutually exclusive: paths|restore" in both["msg"]
    code, neither = run_module("file_snapshot", {})
    assert code == 1 and "one of the following is required: paths, restore" in neither["msg"]
