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


def discovery_steps(direct, origin: str, zone: str):
    """The calls of one name of discovery.py's lab: the name's addresses, its well-known
    document (from ``origin``), the SRV record of every other name, the target's addresses."""
    def steps(name):
        index = int(name.split('.', 1)[0][1:])
        calls = [lambda: direct.query_address(name, 'AAAA'), lambda: direct.query_address(name, 'A'),
                 lambda: direct.https_get(origin, 443, '/.well-known/matrix/server', name, name, 51200)]
        if index % 2 == 0:
            target = f't{index}.{zone}'
            calls.append(lambda: direct.query_srv(f'_matrix-fed._tcp.hs{index}.{zone}'))
        else:
            target = f'hs{index}.{zone}'
        calls += [lambda: direct.query_address(target, 'AAAA'), lambda: direct.query_address(target, 'A')]
        return calls
    return steps


def federation_steps(direct, origin: str):
    """The calls of one name of federation_check.py's lab: discovery's, then one TLS
    connection with both GETs to the delegated server."""
    def steps(name):
        homeserver = 'hs' + name.split('.', 1)[0][1:] + '.' + name.split('.', 1)[1]
        return [lambda: direct.query_address(name, 'AAAA'), lambda: direct.query_address(name, 'A'),
                lambda: direct.https_get(origin, 443, '/.well-known/matrix/server', name, name, 51200),
                lambda: direct.query_address(homeserver, 'AAAA'), lambda: direct.query_address(homeserver, 'A'),
                lambda: direct.probe_federation(origin, 8448, homeserver, homeserver + ':8448',
                                                ['/_matrix/federation/v1/version', '/_matrix/key/v2/server'])]
    return steps
