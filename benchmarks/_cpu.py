"""CPU accounting for the benchmarks: where the machine's CPU time goes during one run.

On a machine with few CPUs the lab's own servers (nginx, BIND) and the latency relays take
CPU from the code being measured. `CpuLedger` adds up, for one timed run, the CPU seconds of
the measured process, the lab's server processes and the relays, and from that the shortest
wall time the run could have taken on this machine if all CPUs were busy all the time:
`(sum of CPU seconds) / CPUs`. When that floor alone exceeds the target, no scheduling or
concurrency can meet the target here; only less CPU per name or more CPUs can.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf('SC_CLK_TCK')


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f'/proc/{pid}/stat').read_text(encoding='ascii')
    except OSError:  # exited meanwhile
        return None
    # The command name (field 2) may hold spaces; everything after its ')' is space-separated.
    return text[text.rindex(')') + 2:].split()


def process_tree_cpu_seconds(root_pids: list[int]) -> float:
    """User + system CPU seconds of the processes `root_pids` and all their descendants alive now."""
    parents = {}
    for entry in Path('/proc').iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None:
                parents[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    wanted = set(pid for pid in root_pids if pid)
    grew = True
    while grew:
        children = {pid for pid, (parent, _ticks) in parents.items() if parent in wanted} - wanted
        grew = bool(children)
        wanted |= children
    return sum(parents[pid][1] for pid in wanted if pid in parents) / _TICKS


@dataclass
class CpuUse:
    """CPU seconds spent during one run, by part."""

    measured: float
    lab_servers: float
    relays: float

    @property
    def total(self) -> float:
        """CPU seconds of every part together."""
        return self.measured + self.lab_servers + self.relays

    @property
    def floor(self) -> float:
        """The shortest wall time this much CPU work allows on this machine's CPUs."""
        return self.total / os.cpu_count()


class CpuLedger:
    """Measures one run: `with CpuLedger(lab) as ledger: ...; ledger.result(measured_cpu)`.

    The relays run in this process (a thread of the benchmark), so this process's own CPU
    time during the run is counted as the relays'; the measured code runs in a child process
    and reports its own CPU seconds.
    """

    def __init__(self, lab):
        self._pids = [lab.nginx.process.pid, lab.bind.process.pid]
        self._at_start = (0.0, 0.0)
        self._servers = self._relays = 0.0

    def __enter__(self) -> CpuLedger:
        self._at_start = (process_tree_cpu_seconds(self._pids), time.process_time())
        return self

    def __exit__(self, *exc_info) -> None:
        servers, own = self._at_start
        self._servers = process_tree_cpu_seconds(self._pids) - servers
        self._relays = time.process_time() - own

    def result(self, measured_cpu_seconds: float) -> CpuUse:
        """The ledger of the run, given the CPU seconds the measured process reported."""
        return CpuUse(measured=measured_cpu_seconds, lab_servers=self._servers, relays=self._relays)


def ledger_table(rows: list[dict], measured_label: str) -> str:
    """Markdown: per N, CPU seconds by part, the floor they imply, and the floor as a ratio."""
    lines = [f'| names | {measured_label} CPU | lab servers CPU (nginx, BIND) | latency relays CPU '
             f'| all parts / {os.cpu_count()} CPUs = floor | floor / critical path '
             '| CPU per name the 2x target leaves to the client |',
             '|---:|---:|---:|---:|---:|---:|---:|']
    for row in rows:
        cpu = CpuUse(**row['cpu_ledger'])
        window = 2 * row['single_seconds'] * os.cpu_count()
        left = (window - cpu.lab_servers - cpu.relays) / row['names']
        lines.append(f"| {row['names']} | {cpu.measured * 1000:.0f} ms | {cpu.lab_servers * 1000:.0f} ms "
                     f"| {cpu.relays * 1000:.0f} ms | {cpu.floor * 1000:.0f} ms "
                     f"| {cpu.floor / row['single_seconds']:.2f} "
                     f"| {left * 1000:.2f} ms (uses {cpu.measured / row['names'] * 1000:.2f} ms) |")
    return '\n'.join(lines)
