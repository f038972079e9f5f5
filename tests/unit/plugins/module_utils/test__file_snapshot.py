# Copyright (c) 2026, homeserver.delegation developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Saving files and putting them back (module_utils/_file_snapshot.py), on real files, without root."""

from __future__ import annotations

import base64
import grp
import os
import pwd
import stat

import pytest

from ansible_collections.homeserver.delegation.plugins.module_utils._file_snapshot import SnapshotError, look, restore

OWNER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name


def _mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture(name="tree")
def tree_fixture(tmp_path):
    """site.conf (0640), key.pem, a link enabled/site.conf -> ../site.conf, a directory."""
    (tmp_path / "site.conf").write_bytes(b"server {}\n")
    os.chmod(tmp_path / "site.conf", 0o640)
    (tmp_path / "key.pem").write_bytes(b"-----BEGIN PRIVATE KEY-----\n\x00\xff\n")
    os.chmod(tmp_path / "key.pem", 0o600)
    (tmp_path / "enabled").mkdir()
    os.symlink("../site.conf", tmp_path / "enabled/site.conf")
    return tmp_path


def test_look_describes_each_path_once_without_following_links(tree):
    paths = [str(tree / "site.conf"), str(tree / "enabled/site.conf"), str(tree / "new.conf"),
             str(tree / "enabled"), str(tree / "site.conf")]
    entries = look(paths)
    assert [entry["path"] for entry in entries] == paths[:4]
    assert entries[0] == {"path": paths[0], "exists": True, "type": "file", "mode": "0640", "owner": OWNER, "group": GROUP}
    assert entries[1]["type"] == "link" and entries[1]["target"] == "../site.conf"
    assert entries[2] == {"path": paths[2], "exists": False}
    assert entries[3]["type"] == "directory"


def test_look_reads_files_only_when_asked_and_keeps_every_byte(tree):
    path = str(tree / "key.pem")
    assert "content" not in look([path])[0]
    assert base64.b64decode(look([path], read=True)[0]["content"]) == b"-----BEGIN PRIVATE KEY-----\n\x00\xff\n"


def test_look_refuses_a_relative_path():
    with pytest.raises(SnapshotError, match="^site.conf: not an absolute path"):
        look(["site.conf"])


def test_restore_puts_back_contents_modes_links_and_removes_what_was_not_there(tree):
    site, link, new = tree / "site.conf", tree / "enabled/site.conf", tree / "new.conf"
    saved = look([str(site), str(link), str(new)], read=True)
    # What a refused run leaves: the site rewritten and opened up, the link moved, a new file.
    site.write_bytes(b"broken\n")
    os.chmod(site, 0o644)
    os.unlink(link)
    os.symlink("../elsewhere.conf", link)
    new.write_text("new\n")

    assert restore(saved) == [str(site), str(link), str(new)]
    assert site.read_bytes() == b"server {}\n" and _mode(site) == 0o640
    assert os.readlink(link) == "../site.conf"
    assert not os.path.lexists(new)
    # Put back already: nothing to do a second time.
    assert restore(saved) == []


def test_restore_makes_a_removed_link_and_file_again(tree):
    site, link = tree / "site.conf", tree / "enabled/site.conf"
    saved = look([str(site), str(link)], read=True)
    os.unlink(link)
    os.unlink(site)
    assert restore(saved) == [str(site), str(link)]
    assert link.read_bytes() == b"server {}\n"


def test_restore_in_check_mode_reports_and_writes_nothing(tree):
    site, new = tree / "site.conf", tree / "new.conf"
    saved = look([str(site), str(new)], read=True)
    site.write_bytes(b"broken\n")
    new.write_text("new\n")
    assert restore(saved, check_mode=True) == [str(site), str(new)]
    assert site.read_bytes() == b"broken\n" and new.exists()


def test_a_mode_change_alone_is_put_back(tree):
    site = tree / "site.conf"
    saved = look([str(site)], read=True)
    os.chmod(site, 0o666)
    assert restore(saved) == [str(site)]
    assert _mode(site) == 0o640


@pytest.mark.parametrize("change, message", [
    pytest.param({"content": "not base64!"}, "the saved content is not base64", id="content"),
    pytest.param({"mode": "0999"}, "the saved mode '0999' is not an octal mode", id="mode"),
    pytest.param({"mode": "644\n"}, "is not an octal mode", id="mode-newline"),
    pytest.param({"owner": "no-such-user-homeserver"}, "the saved owner 'no-such-user-homeserver' does not exist", id="owner"),
    pytest.param({"group": "no-such-group-homeserver"}, "the saved group 'no-such-group-homeserver' does not exist", id="group"),
    pytest.param({"content": None, "drop": "content"}, "the saved file has no content", id="unread"),
    pytest.param({"exists": "yes"}, "does not say whether the file existed", id="exists"),
])
def test_a_malformed_entry_changes_nothing_at_all(tree, change, message):
    site, new = tree / "site.conf", tree / "new.conf"
    saved = look([str(new), str(site)], read=True)
    new.write_text("new\n")
    site.write_bytes(b"broken\n")
    entry = dict(saved[1], **{key: value for key, value in change.items() if key != "drop"})
    entry.pop(change.get("drop", ""), None)
    with pytest.raises(SnapshotError, match=str(site)) as caught:
        restore([saved[0], entry])
    assert message in str(caught.value)
    # The valid entry before it was not applied either.
    assert new.exists() and site.read_bytes() == b"broken\n"


def test_an_entry_without_an_absolute_path_is_refused():
    with pytest.raises(SnapshotError, match="without an absolute path: 'etc/x'"):
        restore([{"path": "etc/x", "exists": False}])


def test_a_directory_where_a_file_was_stops_before_any_write(tree):
    site, conf = tree / "site.conf", tree / "conf"
    saved = look([str(site), str(conf)], read=True)
    site.write_bytes(b"broken\n")
    conf.mkdir()
    with pytest.raises(SnapshotError, match="conf: did not exist before, and is now a directory: left in place"):
        restore(saved)
    assert site.read_bytes() == b"broken\n" and conf.is_dir()


def test_directories_are_never_saved_nor_put_back(tree):
    saved = look([str(tree / "enabled")], read=True)
    assert "content" not in saved[0]
    assert restore(saved) == []
