# Copyright (c) 2026, homeserver.delegation developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Work shared among forked processes: results in order, failing children, nothing left behind.

Real forks, real pipes: the children here are processes, not stand-ins."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from ansible_collections.homeserver.delegation.plugins.module_utils import _processes
from ansible_collections.homeserver.delegation.plugins.module_utils._processes import map_shares, processes_for

ITEMS = ["name%d" % index for index in range(10)]

# pytest-xdist's worker runs a thread of its own (execnet), so forking here warns on Python
# 3.12+. The children of these tests only compute and write to their pipe; the collection
# itself never forks a process with other threads (processes_for, tested below).
pytestmark = pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")


def no_child_left():
    """True when this process has no child, running or unreaped."""
    try:
        os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def who_worked(share):
    return [[item, os.getpid()] for item in share]


def test_every_share_is_worked_on_by_its_own_process_and_the_results_keep_their_order():
    results = map_shares(who_worked, ITEMS, 3)
    assert [item for item, dummy in results] == ITEMS
    pids = [pid for dummy, pid in results]
    assert len(set(pids)) == 3 and os.getpid() in pids
    # Interleaved shares: items 0, 3, 6, 9 in one process, 1, 4, 7 in another, ...
    assert pids[0] == pids[3] == pids[6] == pids[9] == os.getpid()
    assert pids[1] == pids[4] == pids[7] != pids[2] == pids[5] == pids[8]
    assert no_child_left()


def test_fewer_items_than_processes_start_one_process_per_item():
    results = map_shares(who_worked, ["only"], 4)
    assert results == [["only", os.getpid()]]
    assert no_child_left()


@pytest.mark.parametrize("how", ["exit code", "signal", "exception", "too few results", "not JSON"])
def test_a_failing_child_has_its_share_worked_on_again_by_the_parent(how):
    parent = os.getpid()

    def work(share):
        if os.getpid() != parent:
            if how == "exit code":
                os._exit(3)  # pylint: disable=protected-access
            if how == "signal":
                os.kill(os.getpid(), signal.SIGKILL)
            if how == "exception":
                raise ValueError("only in the child")
            if how == "too few results":
                return who_worked(share)[:-1]
            if how == "not JSON":
                return [object()]
        return who_worked(share)

    results = map_shares(work, ITEMS, 3)
    assert [item for item, dummy in results] == ITEMS
    assert set(pid for dummy, pid in results) == {parent}
    assert no_child_left()


def test_an_error_in_the_parent_is_raised_and_the_children_are_stopped_and_reaped():
    parent = os.getpid()

    def work(share):
        if os.getpid() == parent:
            raise RuntimeError("the parent's share failed")
        time.sleep(60)  # a child still working: it must not outlive the call
        return who_worked(share)

    started = time.monotonic()
    with pytest.raises(RuntimeError, match="the parent's share failed"):
        map_shares(work, ITEMS, 3)
    assert time.monotonic() - started < 30, "the call waited for its children's work"
    assert no_child_left()


def test_an_error_everywhere_is_raised_from_the_parent():
    def work(share):
        raise KeyError("broken for every share")

    with pytest.raises(KeyError, match="broken for every share"):
        map_shares(work, ITEMS, 2)
    assert no_child_left()


def test_a_child_writes_nothing_to_standard_output(capfd):
    map_shares(who_worked, ITEMS, 3)
    captured = capfd.readouterr()
    assert captured.out == ""


def test_when_no_child_can_be_started_the_parent_works_on_every_share(monkeypatch):
    def refuse():
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(_processes.os, "fork", refuse)
    results = map_shares(who_worked, ITEMS, 3)
    assert results == [[item, os.getpid()] for item in ITEMS]


@pytest.mark.parametrize("count, cpus, expected", [
    (1, 8, 1),
    (199, 8, 1),
    (200, 8, 2),
    (500, 2, 2),
    (500, 1, 1),
    (10000, 64, _processes.MAX_PROCESSES),
])
def test_processes_for_many_items_only_and_at_most_one_per_cpu(monkeypatch, count, cpus, expected):
    # As in a module's process, which has no other thread (pytest's worker may have some).
    monkeypatch.setattr(_processes.threading, "active_count", lambda: 1)
    assert processes_for(count, cpus=cpus) == expected


def test_a_process_with_other_threads_does_not_fork():
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert processes_for(10000, cpus=8) == 1
    finally:
        stop.set()
        thread.join()
