# Copyright (c) homeserver.delegation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# pytest puts this directory on sys.path (rootdir-relative conftest without __init__.py), so
# test modules can import the shared fake transport as `fake_transport`.

from __future__ import annotations
