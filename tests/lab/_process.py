"""Start, watch and stop the real servers of the lab (internal to the test lab).

Every server the lab starts is a child process in its own session, logs to a file, and is
registered here so that a failing test can show each server's log and so that nothing is
left running when the Python process exits.
"""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import time
from pathlib import Path

_RUNNING: list[ManagedProcess] = []


class LabError(RuntimeError):
    """A lab server could not be configured, started or reloaded."""


class ManagedProcess:
    """One server process with its log file."""

    def __init__(self, name: str, argv: list[str], log_path: Path, env: dict | None = None,
                 cwd: Path | None = None, extra_logs: list[Path] | None = None):
        self.name = name
        self.extra_logs = [Path(path) for path in extra_logs or []]
        self.argv = argv
        self.log_path = Path(log_path)
        self.env = env
        self.cwd = cwd
        self.popen: subprocess.Popen | None = None

    def start(self) -> None:
        """Start the process, its stdout and stderr appended to the log file."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, 'ab') as log:
            self.popen = subprocess.Popen(  # pylint: disable=consider-using-with
                self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=self.env, cwd=self.cwd, start_new_session=True)
        _RUNNING.append(self)

    @property
    def pid(self) -> int | None:
        """The process id, or None before start."""
        return self.popen.pid if self.popen else None

    def alive(self) -> bool:
        """True while the process runs."""
        return self.popen is not None and self.popen.poll() is None

    def wait_until(self, ready, timeout: float, what: str) -> None:
        """Poll ready() until it is true; fail with the log when the process dies or time is up."""
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if not self.alive():
                raise LabError(f'{self.name} exited with {self.popen.returncode} before {what}:\n'
                               f'{self.log_tail(6000)}')
            try:
                if ready():
                    return
            except Exception as exc:  # pylint: disable=broad-exception-caught
                last_error = exc
            time.sleep(0.05)
        raise LabError(f'{self.name} not {what} after {timeout:.0f}s (last error: {last_error}):\n'
                       f'{self.log_tail(6000)}')

    def stop(self, timeout: float = 10) -> None:
        """Stop the process and everything in its session: SIGTERM, then SIGKILL."""
        if self.popen is None:
            return
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5)
        if self in _RUNNING:
            _RUNNING.remove(self)

    def log_paths(self) -> list[Path]:
        """Every log this server writes: its output, then any log files of its own."""
        return [self.log_path, *self.extra_logs]

    def log_marks(self) -> dict[Path, int]:
        """Current size of each log, to show later only what was logged after this point."""
        marks = {}
        for path in self.log_paths():
            try:
                marks[path] = path.stat().st_size
            except FileNotFoundError:
                marks[path] = 0
        return marks

    def log_report(self, marks: dict[Path, int] | None = None, max_bytes: int = 20000) -> str:
        """Every log from its mark (or its start), each at most its last `max_bytes`."""
        marks = marks or {}
        return '\n'.join(f'--- {path}\n{_tail(path, marks.get(path, 0), max_bytes)}'
                         for path in self.log_paths())

    def log_tail(self, max_bytes: int = 20000) -> str:
        """The end of the process output (for errors at start-up)."""
        return self.log_report(max_bytes=max_bytes)


def _tail(path: Path, since: int, max_bytes: int) -> str:
    try:
        with open(path, 'rb') as log:
            log.seek(0, os.SEEK_END)
            size = log.tell()
            if size < since:  # truncated or rotated
                since = 0
            start = max(since, size - max_bytes)
            log.seek(start)
            text = log.read().decode('utf-8', 'replace')
    except FileNotFoundError:
        return '(no log)'
    return ('[...]\n' if start > since else '') + text


def running_processes() -> list[ManagedProcess]:
    """The lab servers that are running now (for showing their logs when a test fails)."""
    return list(_RUNNING)


@atexit.register
def _stop_all() -> None:
    for process in list(_RUNNING):
        process.stop(timeout=5)


def run(argv: list[str], what: str, timeout: float = 60, **kwargs) -> str:
    """Run a helper command (named-checkconf, nginx -t, rndc...); fail with its output."""
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                                check=False, **kwargs)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LabError(f'{what}: {exc}') from exc
    if result.returncode != 0:
        raise LabError(f'{what} failed ({" ".join(argv)}), exit {result.returncode}:\n'
                       f'{result.stdout}{result.stderr}')
    return result.stdout + result.stderr
