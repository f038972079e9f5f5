"""Makes this checkout importable and usable as homeserver.delegation for the benchmarks.

The same layout as `make link`: .tmp/collections/ansible_collections/homeserver/delegation
points at the checkout, and Python (this process and its children) and Ansible find it there.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
COLLECTIONS = CHECKOUT / '.tmp' / 'collections'
LINK = COLLECTIONS / 'ansible_collections' / 'homeserver' / 'delegation'


def use_checkout_as_collection() -> None:
    """Lay out the link if missing, and point sys.path, PYTHONPATH and Ansible at it."""
    if not LINK.exists():
        LINK.parent.mkdir(parents=True, exist_ok=True)
        LINK.symlink_to(CHECKOUT)
    sys.path.insert(0, str(COLLECTIONS))
    os.environ['ANSIBLE_COLLECTIONS_PATH'] = str(COLLECTIONS)
    os.environ['PYTHONPATH'] = str(COLLECTIONS) + (
        os.pathsep + os.environ['PYTHONPATH'] if os.environ.get('PYTHONPATH') else '')
