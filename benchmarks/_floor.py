"""The libraries' floor: the CPU one name costs when only its network calls are made.

A resolution is made of DNS queries (dnspython) and HTTPS requests (Python's ssl and
http.client, through the collection's one client); federation_check adds one TLS connection
with two GETs per target address. Made one after the other in one thread, straight to the
lab's servers (no relays, no engine: no threads, traces, reports or problems), their CPU is
the least any client built on these libraries could spend per name. Each benchmark measures
it in the same run as the engine (same process, same lab), so the ratio compares like with
like; the benchmarks' README records both.
"""

from __future__ import annotations

import time

#: Names whose calls are measured (the floor is per name; more only lengthens the run).
SAMPLE = 100


def floor_per_name(steps_of_name, names: list[str]) -> dict:
    """CPU and wall milliseconds per name of ``steps_of_name(name)`` (a list of callables),
    run for up to SAMPLE names one after the other, after one warm-up name."""
    sample = names[:SAMPLE]
    for step in steps_of_name(sample[0]):
        step()
    cpu, wall = time.process_time(), time.monotonic()
    calls = 0
    for name in sample:
        for step in steps_of_name(name):
            step()
            calls += 1
    return {'cpu_ms_per_name': (time.process_time() - cpu) * 1000 / len(sample),
            'wall_ms_per_name': (time.monotonic() - wall) * 1000 / len(sample),
            'calls_per_name': calls / len(sample), 'names': len(sample)}
