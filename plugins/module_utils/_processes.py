# Copyright (c) 2026, homeserver.delegation developers
# Simplified BSD License (see https://opensource.org/licenses/BSD-2-Clause)
# SPDX-License-Identifier: BSD-2-Clause

"""Work shared among forked processes, for checks that many names make CPU-bound.

The engine runs every name as a coroutine on one loop in one thread (_loop). With hundreds
of names it stops waiting on the network and uses one CPU all the time, while the host may
have more. :func:`map_shares` then gives each of a few forked children an interleaved share
of the items and works on one share itself.

- A child sends its results back as JSON through a pipe, then leaves with ``os._exit``: it
  never returns into the caller's code, runs no exit handlers and writes nothing to
  standard output (an Ansible module's channel).
- A child that fails in any way (an exception, a signal, output that is not its share's
  results) has its share worked on again by the parent, in the parent, so a result is never
  missing and an error in the work is raised where the caller sees it.
- No child outlives the call, whatever happens in the parent.

Only a process without other threads forks (forking copies just the calling thread, and
locks held by the others would stay locked in the child).

This module is internal to the homeserver.delegation collection and may change at any time.
"""

from __future__ import annotations

import json
import os
import signal
import threading

#: Names (items) a process gets at least before another process is worth its start.
ITEMS_PER_PROCESS = 100
#: Processes at most, whatever the number of CPUs.
MAX_PROCESSES = 4


def usable_cpus():
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def processes_for(items_count, cpus=None):
    """How many processes share ``items_count`` items: one per :data:`ITEMS_PER_PROCESS`
    items, at most one per usable CPU and :data:`MAX_PROCESSES`; 1 where fork is unsafe."""
    if not hasattr(os, "fork") or threading.active_count() > 1:
        return 1
    cpus = usable_cpus() if cpus is None else cpus
    return max(1, min(cpus, MAX_PROCESSES, items_count // ITEMS_PER_PROCESS))


def _child(function, share, write_fd):
    """In the forked child: work on ``share``, send the results, and leave."""
    code = 1
    try:
        data = json.dumps(function(share)).encode("utf-8")
        with os.fdopen(write_fd, "wb") as pipe:
            pipe.write(data)
        code = 0
    except BaseException:  # pylint: disable=broad-except  # the parent works on the share again
        pass
    finally:
        os._exit(code)  # pylint: disable=protected-access


def _fork(function, share):
    """Start a child working on ``share``: ``[pid, read_fd]``, or ``[None, None]`` when the
    system cannot start one (the parent then works on the share)."""
    try:
        read_fd, write_fd = os.pipe()
    except OSError:
        return [None, None]
    try:
        pid = os.fork()
    except OSError:
        os.close(read_fd)
        os.close(write_fd)
        return [None, None]
    if pid == 0:  # pragma: no cover - the child leaves through os._exit
        os.close(read_fd)
        _child(function, share, write_fd)
    os.close(write_fd)
    return [pid, read_fd]


def _collect(child, share_length):
    """The results a child sent, or None when it failed (see the module docstring)."""
    pid, read_fd = child
    if pid is None:
        return None
    child[1] = None
    with os.fdopen(read_fd, "rb") as pipe:
        data = pipe.read()
    dummy, status = os.waitpid(pid, 0)
    child[0] = None
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        return None
    try:
        results = json.loads(data.decode("utf-8"))
    except ValueError:
        return None
    return results if isinstance(results, list) and len(results) == share_length else None


def _end(child):
    """Stop and reap a child still running when the parent failed first."""
    pid, read_fd = child
    if read_fd is not None:
        os.close(read_fd)
    if pid is not None:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def map_shares(function, items, processes):
    """``function(share)`` for ``processes`` interleaved shares of ``items``.

    ``function`` takes a list of items and returns a list of results, one per item, in
    order, made of JSON data only (dicts with string keys, lists, strings, numbers, booleans,
    None): a child's results come back decoded from JSON, and must equal what the parent
    would have made. Returns all results in the order of ``items``.
    """
    items = list(items)
    processes = max(1, min(processes, len(items)))
    shares = [items[index::processes] for index in range(processes)]
    children = []
    try:
        for share in shares[1:]:
            children.append(_fork(function, share))
        results = [function(shares[0])]
        for share, child in zip(shares[1:], children):
            collected = _collect(child, len(share))
            results.append(collected if collected is not None else function(share))
    finally:
        for child in children:
            _end(child)
    merged = [None] * len(items)
    for index, share_results in enumerate(results):
        merged[index::processes] = share_results
    return merged
