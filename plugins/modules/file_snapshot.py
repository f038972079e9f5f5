#!/usr/bin/python
# Copyright (c) 2026, homeserver.delegation developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: file_snapshot
short_description: Save a set of files in one pass, and put them back as they were
version_added: 0.1.0
description:
  - With O(paths), describes each path without following links (whether it exists, its type,
    mode, owner, group, a link's target) and, with O(read=true), returns the content of each
    regular file. Nothing is changed.
  - >-
    With O(restore), puts back the files described by an earlier run with O(read=true): a saved
    file is written back atomically (a temporary file in its directory, then a rename) with its
    mode, owner and group; a saved link is made again with its target; a path that did not exist
    is removed. Paths that are already as saved are left alone. Directories and special files are
    never saved, so never put back.
  - Every saved entry is checked before anything is written; a malformed one changes nothing.
  - >-
    The roles use it to save every file a run may change before they write a web server's
    configuration, and to put them back when the web server refuses it: one round trip each way
    instead of one per file.
attributes:
  check_mode:
    support: full
    details: >-
      O(paths) changes nothing anyway; O(restore) reports the paths it would put back and writes nothing.
  diff_mode:
    support: none
    details: The files may hold private keys.
  platform:
    platforms: posix
options:
  paths:
    description:
      - Absolute paths to describe, each once, in the order given.
      - Exactly one of O(paths) and O(restore) is required.
    type: list
    elements: path
  read:
    description:
      - With O(paths), also return the content of each regular file, base64 encoded.
      - The content may hold secrets (private keys); set C(no_log) on the task.
    type: bool
    default: false
  restore:
    description:
      - The RV(files) of an earlier run of this module with O(read=true), to put back.
    type: list
    elements: dict
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
author:
  - homeserver.delegation developers (@homeserver-delegation)
notes:
  - Owners and groups are saved by name (by number when the host has no name for the id), and
    must exist when they are put back.
seealso:
  - module: ansible.builtin.stat
  - module: ansible.builtin.slurp
"""

EXAMPLES = r"""
- name: Save the files a change may touch
  homeserver.delegation.file_snapshot:
    paths:
      - /etc/nginx/sites-available/example.conf
      - /etc/nginx/sites-enabled/example.conf
    read: true
  register: saved
  no_log: true  # the files may hold private keys

- name: Change the configuration and test it, or put it back
  block:
    - name: Write the site
      ansible.builtin.template:
        src: example.conf.j2
        dest: /etc/nginx/sites-available/example.conf
        mode: "0644"

    - name: Test the configuration
      ansible.builtin.command:
        argv: [nginx, -t]
      changed_when: false
  rescue:
    - name: Put the files back as they were
      homeserver.delegation.file_snapshot:
        restore: "{{ saved.files }}"
      no_log: true
"""

RETURN = r"""
files:
  description: One entry per path of O(paths), in order.
  returned: with O(paths)
  type: list
  elements: dict
  contains:
    path:
      description: The path.
      type: str
    exists:
      description: Whether the path existed (as anything, a broken link included).
      type: bool
    type:
      description: C(file), C(link), C(directory) or C(other).
      type: str
      returned: when RV(files[].exists)
    mode:
      description: The permission bits, four octal digits.
      type: str
      returned: when RV(files[].exists)
    owner:
      description: The owner's name.
      type: str
      returned: when RV(files[].exists)
    group:
      description: The group's name.
      type: str
      returned: when RV(files[].exists)
    target:
      description: What the link points to, as written in it.
      type: str
      returned: for links
    content:
      description: The bytes of the file, base64 encoded.
      type: str
      returned: for regular files with O(read=true)
  sample:
    - {path: /etc/nginx/sites-available/example.conf, exists: true, type: file, mode: "0644",
       owner: root, group: root}
    - {path: /etc/nginx/sites-enabled/example.conf, exists: false}
restored:
  description: The paths put back (in check mode, that would be).
  returned: with O(restore)
  type: list
  elements: str
  sample: [/etc/nginx/sites-available/example.conf]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.homeserver.delegation.plugins.module_utils._file_snapshot import SnapshotError, look, restore


def main():
    module = AnsibleModule(
        argument_spec=dict(
            paths=dict(type="list", elements="path"),
            read=dict(type="bool", default=False),
            restore=dict(type="list", elements="dict"),
        ),
        mutually_exclusive=[("paths", "restore")],
        required_one_of=[("paths", "restore")],
        supports_check_mode=True,
    )
    try:
        if module.params["restore"] is not None:
            restored = restore(module.params["restore"], check_mode=module.check_mode)
            module.exit_json(changed=bool(restored), restored=restored)
        module.exit_json(changed=False, files=look(module.params["paths"], read=module.params["read"]))
    except SnapshotError as exc:
        module.fail_json(msg=str(exc))


if __name__ == "__main__":
    main()
