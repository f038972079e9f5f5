# Copyright (c) 2026, homeserver.delegation developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Save a set of files in one pass and put them back as they were (modules/file_snapshot.py).

The web-server layer saves every file a run may change before it writes the configuration, and
puts them back when the web server refuses the result: one module call each way instead of a
stat and a read per file. A saved entry is a plain dict, so that it can travel through the
controller (registered, then given back):

    {"path": "/etc/nginx/sites-available/x.conf", "exists": true, "type": "file",
     "mode": "0644", "owner": "root", "group": "root", "content": "<base64>"}
    {"path": "/etc/nginx/sites-enabled/x.conf", "exists": true, "type": "link", ..., "target": "../x"}
    {"path": "/etc/haproxy/certs/new.pem", "exists": false}

Restoring writes a saved file back atomically (a temporary file in its directory, then a rename)
with its mode, owner and group; re-creates a saved link; and removes what did not exist. Every
entry is checked, and every path looked at, before anything is written: a malformed entry, or a
directory where a saved file was, changes nothing.
"""

from __future__ import annotations

import base64
import binascii
import grp
import os
import pwd
import re
import stat
import tempfile

_MODE = re.compile(r"\A0?[0-7]{3,4}\Z")
_KINDS = {stat.S_IFREG: "file", stat.S_IFLNK: "link", stat.S_IFDIR: "directory"}


class SnapshotError(Exception):
    """A path or a saved entry that cannot be saved or restored; the message names it."""


def _name(lookup, number):
    try:
        return lookup(number)[0]
    except KeyError:
        # An id without a name is kept as its number.
        return str(number)


def look(paths, read=False):
    """Describe each path (links not followed), in order, each once; with ``read``, the bytes of files."""
    entries = []
    for path in dict.fromkeys(paths):
        if not os.path.isabs(path):
            raise SnapshotError("%s: not an absolute path" % path)
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            entries.append({"path": path, "exists": False})
            continue
        except OSError as exc:
            raise SnapshotError("%s: cannot look at it: %s" % (path, exc.strerror)) from exc
        entry = {
            "path": path,
            "exists": True,
            "type": _KINDS.get(stat.S_IFMT(info.st_mode), "other"),
            "mode": "%04o" % stat.S_IMODE(info.st_mode),
            "owner": _name(pwd.getpwuid, info.st_uid),
            "group": _name(grp.getgrgid, info.st_gid),
        }
        if entry["type"] == "link":
            entry["target"] = os.readlink(path)
        elif entry["type"] == "file" and read:
            try:
                with open(path, "rb") as stream:
                    entry["content"] = base64.b64encode(stream.read()).decode("ascii")
            except OSError as exc:
                raise SnapshotError("%s: cannot read it: %s" % (path, exc.strerror)) from exc
        entries.append(entry)
    return entries


def _id(lookup, name, what, path):
    if name.isdigit():
        return int(name)
    try:
        return lookup(name)[2]
    except KeyError:
        raise SnapshotError("%s: the saved %s %r does not exist on this host" % (path, what, name)) from None


def _checked(entry):
    """(path, plan) for one saved entry, or SnapshotError naming what is wrong with it."""
    if not isinstance(entry, dict) or not isinstance(entry.get("path"), str) or not os.path.isabs(entry["path"]):
        raise SnapshotError("a saved entry without an absolute path: %r" % (entry if not isinstance(entry, dict) else entry.get("path"),))
    path = entry["path"]
    if entry.get("exists") is False:
        return path, {"action": "absent"}
    if entry.get("exists") is not True:
        raise SnapshotError("%s: the saved entry does not say whether the file existed" % path)
    kind = entry.get("type")
    if kind == "link":
        if not isinstance(entry.get("target"), str) or not entry["target"]:
            raise SnapshotError("%s: the saved link has no target" % path)
        return path, {"action": "link", "target": entry["target"]}
    if kind != "file":
        # Directories and special files are not saved, so nothing is put back.
        return path, {"action": "keep"}
    if "content" not in entry:
        raise SnapshotError("%s: the saved file has no content (saved without read?)" % path)
    if not isinstance(entry.get("mode"), str) or not _MODE.match(entry["mode"]):
        raise SnapshotError("%s: the saved mode %r is not an octal mode" % (path, entry.get("mode")))
    for key in ("owner", "group"):
        if not isinstance(entry.get(key), str) or not entry[key]:
            raise SnapshotError("%s: the saved entry has no %s" % (path, key))
    try:
        content = base64.b64decode(entry["content"], validate=True)
    except (TypeError, ValueError, binascii.Error) as exc:
        raise SnapshotError("%s: the saved content is not base64" % path) from exc
    return path, {
        "action": "file",
        "content": content,
        "mode": int(entry["mode"], 8),
        "uid": _id(pwd.getpwnam, entry["owner"], "owner", path),
        "gid": _id(grp.getgrnam, entry["group"], "group", path),
    }


def _current(path):
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def _same_file(path, info, plan):
    if info is None or not stat.S_ISREG(info.st_mode):
        return False
    if (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid) != (plan["mode"], plan["uid"], plan["gid"]):
        return False
    with open(path, "rb") as stream:
        return stream.read() == plan["content"]


def _write(path, plan):
    directory, name = os.path.split(path)
    handle, scratch = tempfile.mkstemp(prefix=".%s." % name, dir=directory)
    try:
        with os.fdopen(handle, "wb") as stream:
            os.fchmod(stream.fileno(), plan["mode"])
            os.fchown(stream.fileno(), plan["uid"], plan["gid"])
            stream.write(plan["content"])
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(scratch, path)
    except BaseException:
        if os.path.lexists(scratch):
            os.unlink(scratch)
        raise


def _needed(path, info, plan):
    """Whether putting the path back changes anything; SnapshotError when a directory is in the way."""
    action = plan["action"]
    if action == "keep" or (action == "absent" and info is None):
        return False
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise SnapshotError("%s: %s, and is now a directory: left in place" % (
            path, {"absent": "did not exist before", "link": "was a link", "file": "was a file"}[action]))
    if action == "link":
        return not (info is not None and stat.S_ISLNK(info.st_mode) and os.readlink(path) == plan["target"])
    return action == "absent" or not _same_file(path, info, plan)


def _put_back(path, info, plan):
    if plan["action"] == "file":
        _write(path, plan)
        return
    if info is not None:
        os.unlink(path)
    if plan["action"] == "link":
        os.symlink(plan["target"], path)


def restore(entries, check_mode=False):
    """Put back every saved entry; the paths that changed (or would change, in check mode)."""
    # Every entry is checked, and every path looked at, before the first write.
    plans = [_checked(entry) for entry in entries]
    needed = []
    for path, plan in plans:
        try:
            info = _current(path)
            if _needed(path, info, plan):
                needed.append((path, info, plan))
        except OSError as exc:
            raise SnapshotError("%s: cannot look at it: %s; nothing was put back" % (path, exc.strerror)) from exc
    changed = []
    for path, info, plan in needed:
        if not check_mode:
            try:
                _put_back(path, info, plan)
            except OSError as exc:
                raise SnapshotError("%s: cannot put it back: %s (put back before it: %s)" % (
                    path, exc.strerror, ", ".join(changed) or "nothing")) from exc
        changed.append(path)
    return changed
