# Copyright (c) homeserver.delegation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# pytest puts this directory on sys.path (rootdir-relative conftest without __init__.py), so
# test modules can import the shared fake transport as `fake_transport`.

from __future__ import annotations

from ansible.plugins.loader import init_plugin_loader

# Install Ansible's collection finder before anything imports ansible_collections, so that
# plugins load by their FQCN (ANSIBLE_COLLECTIONS_PATH, set by make) as in ansible-playbook.
init_plugin_loader()
