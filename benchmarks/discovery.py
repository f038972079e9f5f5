"""Benchmark: resolve N delegated Matrix server names in one query() with 50 ms round trips.

Builds a lab of real servers on loopback (BIND, nginx with a test CA; see tests/lab/), puts
a DNS forwarder and a TCP proxy in front that each add the round-trip time (user space,
tests/lab/latency.py), then runs benchmarks/discovery.yml with ansible-playbook:

* once per N with all N names in one query(), and
* once per N with only the name whose chain is longest (the critical path),

and prints a Markdown table: the lookup's wall time (timestamps taken inside the task, so
Ansible's start-up is not counted), the task's wall time, the single chain's time, its
length in round trips, and the ratio (target: at most 2).

Every name is delegated by its well-known document. Even names delegate to a hostname without
a port, which has a `_matrix-fed._tcp` SRV record pointing at a third name (the long chain:
address of the name, TCP, TLS, HTTP, SRV, address of the SRV target). Odd names delegate to
`host:8448` (one look-up shorter).

Run as root from the checkout (see benchmarks/README.md):
    python benchmarks/discovery.py --names 30 500
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _checkout import CHECKOUT, use_checkout_as_collection  # noqa: E402  (beside this script)
from _cpu import CpuLedger, CpuUse, ledger_table  # noqa: E402

use_checkout_as_collection()

# pylint: disable=wrong-import-position
from ansible_collections.homeserver.delegation.tests.lab.lab import Lab  # noqa: E402
from ansible_collections.homeserver.delegation.tests.lab.latency import LatencyInjector  # noqa: E402

ZONE = 'bench.test'


def build(lab: Lab, count: int, proxy_address: str, origin_address: str | None = None) -> list[str]:
    """Zone and vhosts for `count` delegated names; every address is the delaying proxy's.

    nginx listens on `origin_address` (default: a new address, behind the proxy); give the
    proxy's address to have the names point at nginx itself, without a proxy.
    """
    zone = lab.bind.static_zone(ZONE)
    origin_address = origin_address or lab.new_ipv4()
    names = []
    for index in range(count):
        name = f's{index}.{ZONE}'
        names.append(name)
        zone.add_a(name, proxy_address)
        if index % 2 == 0:
            delegated = f'hs{index}.{ZONE}'
            zone.add_srv(f'_matrix-fed._tcp.{delegated}', 10, 0, 8448, f't{index}.{ZONE}')
            zone.add_a(f't{index}.{ZONE}', proxy_address)
        else:
            delegated = f'hs{index}.{ZONE}:8448'
            zone.add_a(f'hs{index}.{ZONE}', proxy_address)
        lab.nginx.vhost(name, [origin_address]).well_known_server(delegated)
    lab.nginx.worker_processes = 2
    lab.reload()
    return names, origin_address


def run_playbook(names: list[str], options: dict, workdir: Path) -> dict:
    """One ansible-playbook run; returns the timings and results it wrote."""
    result_path = workdir / f'result-{len(names)}-{time.monotonic_ns()}.json'
    vars_path = workdir / 'vars.json'
    vars_path.write_text(json.dumps({'server_names': names, 'result_path': str(result_path),
                                     'discovery_options': options}), encoding='utf-8')
    playbook = Path(sys.executable).parent / 'ansible-playbook'
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    own_before = time.process_time()
    started = time.monotonic()
    run = subprocess.run([str(playbook), str(CHECKOUT / 'benchmarks' / 'discovery.yml'),
                          '-e', f'@{vars_path}'], capture_output=True, text=True, check=False,
                         env=dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_LOCALHOST_WARNING='0',
                                  ANSIBLE_INVENTORY_UNPARSED_WARNING='0'))
    process_seconds = time.monotonic() - started
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if run.returncode != 0:
        raise SystemExit(f'ansible-playbook failed:\n{run.stdout}\n{run.stderr}')
    data = json.loads(result_path.read_text(encoding='utf-8'))
    data['process_seconds'] = process_seconds
    # CPU seconds of ansible-playbook (and its workers), and of this process (the relays).
    data['ansible_cpu_seconds'] = (children_after.ru_utime - children_before.ru_utime
                                   + children_after.ru_stime - children_before.ru_stime)
    data['relay_cpu_seconds'] = time.process_time() - own_before
    return data


def run_engine_alone(names: list[str], options: dict, workdir: Path, direct: dict, origin_address: str) -> dict:
    """The same resolution without Ansible, in a fresh Python process; returns its seconds, CPU
    seconds, peak RSS and the libraries' floor measured after it (``direct``: options that reach
    BIND itself, ``origin_address``: nginx's own address)."""
    vars_path = workdir / 'engine.json'
    vars_path.write_text(json.dumps({'names': names, 'options': options, 'direct': direct,
                                     'origin_address': origin_address}), encoding='utf-8')
    run = subprocess.run([sys.executable, __file__, '--engine-alone', str(vars_path)],
                         capture_output=True, text=True, check=False)
    if run.returncode != 0:
        raise SystemExit(f'engine run failed:\n{run.stdout}\n{run.stderr}')
    return json.loads(run.stdout)


def engine_alone(vars_path: Path) -> None:
    """Child process of run_engine_alone(): resolve, print the seconds and CPU seconds taken."""
    # pylint: disable=import-outside-toplevel
    from ansible_collections.homeserver.delegation.plugins.module_utils._connection import (
        transport_from_options,
    )
    from ansible_collections.homeserver.delegation.plugins.module_utils._discovery import (
        DiscoveryError,
        ServerDiscovery,
    )
    from _floor import LibraryCalls, discovery_steps, floor_per_name
    spec = json.loads(vars_path.read_text(encoding='utf-8'))
    options = dict(spec['options'])
    concurrency = options.pop('concurrency', None)
    transport = transport_from_options(options)
    started, cpu_started = time.monotonic(), time.process_time()
    discovery = ServerDiscovery(transport)
    results = discovery.resolve_many(spec['names'], concurrency=concurrency)
    seconds, cpu_seconds = time.monotonic() - started, time.process_time() - cpu_started
    max_rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    failed = [result for result in results if isinstance(result, DiscoveryError)]
    if failed:
        raise SystemExit(f'{len(failed)} names failed, first: {failed[0]}')
    # The libraries' floor, in this process, straight to BIND and nginx (see _floor).
    direct = LibraryCalls(spec['direct'])
    steps = discovery_steps(direct, spec['origin_address'], ZONE)
    floor = floor_per_name(steps, spec['names'])
    print(json.dumps({'seconds': seconds, 'cpu_seconds': cpu_seconds, 'max_rss_kib': max_rss_kib,
                      'floor': floor}))


def measure(count: int, rtt: float, repeat: int, concurrency: int | None) -> dict:
    """Build the lab for `count` names, time all of them and the longest chain alone."""
    with Lab() as lab, LatencyInjector(rtt=rtt, lifetime=1800) as latency, \
            tempfile.TemporaryDirectory() as workdir:
        proxy_address = lab.new_ipv4()
        forwarder = lab.net.ipv4(55)
        names, origin_address = build(lab, count, proxy_address)
        latency.dns_forwarder((forwarder, 53), (lab.bind.address, lab.bind.port))
        latency.tcp_proxy((proxy_address, 443), (origin_address, 443))
        options = {'nameservers': [forwarder], 'dns_port': 53, 'ca_path': lab.ca_path,
                   'timeout': 30}
        if concurrency:
            options['concurrency'] = concurrency
        # Warm up (first ansible-playbook run, Python byte-code), not counted.
        run_playbook(names[:1], options, Path(workdir))
        single, together, task, engine, engine_runs = [], [], [], [], []
        direct = {'nameservers': [lab.bind.address], 'dns_port': lab.bind.port, 'ca_path': lab.ca_path,
                  'timeout': 30}
        load_before = os.getloadavg()[0]
        chain, cpu, cpu_ledger = {}, {}, {}
        for _run in range(repeat):
            queries, connections = latency.queries, latency.connections
            one = run_playbook(names[:1], options, Path(workdir))
            chain = {'dns_queries': latency.queries - queries,
                     'tcp_connections': latency.connections - connections}
            single.append(one['lookup_finished'] - one['lookup_started'])
            everything = run_playbook(names, options, Path(workdir))
            together.append(everything['lookup_finished'] - everything['lookup_started'])
            task.append(everything['task_finished'] - everything['task_started'])
            with CpuLedger(lab) as ledger:
                engine_run = run_engine_alone(names, options, Path(workdir), direct, origin_address)
            engine.append(engine_run['seconds'])
            engine_runs.append(engine_run)
            cpu_ledger = dataclasses.asdict(ledger.result(engine_run['cpu_seconds']))
            cpu = {'ansible_playbook': everything['ansible_cpu_seconds'],
                   'latency_relays': everything['relay_cpu_seconds'],
                   'wall': everything['process_seconds']}
            methods = {result['method'] for result in everything['results']}
            if len(everything['results']) != count or not methods <= {'well_known_srv',
                                                                      'well_known_explicit_port'}:
                raise SystemExit(f'unexpected results: {methods}')
        return {'names': count, 'rtt_ms': rtt * 1000, 'repeat': repeat,
                'load_average_before': load_before,
                'single_seconds': statistics.median(single),
                'all_seconds': statistics.median(together),
                'task_seconds': statistics.median(task),
                'engine_seconds': statistics.median(engine),
                'single_round_trips': statistics.median(single) / rtt if rtt else float('nan'),
                'chain': chain, 'cpu_seconds_last_run': cpu, 'cpu_ledger': cpu_ledger,
                'ratio': statistics.median(together) / statistics.median(single),
                'engine_cpu_ms_per_name': statistics.median(run['cpu_seconds'] for run in engine_runs) * 1000 / count,
                'floor_cpu_ms_per_name': statistics.median(run['floor']['cpu_ms_per_name'] for run in engine_runs),
                'floor_calls_per_name': engine_runs[-1]['floor']['calls_per_name'],
                'max_rss_kib': max(run['max_rss_kib'] for run in engine_runs),
                'engine_runs': engine_runs,
                'runs': {'single': single, 'all': together, 'task': task, 'engine': engine}}


def engine_table(rows: list[dict]) -> str:
    """Markdown: the engine's CPU per name against the libraries' floor, its wall time against
    all parts' CPU over the CPUs, and its peak memory (the engine alone, medians of the runs)."""
    lines = ['\nThe engine alone (no Ansible) against its references, same runs:\n',
             '| names | engine CPU per name | libraries\' floor per name (calls) | CPU ratio (target <= 1.25) '
             f'| engine wall | all parts\' CPU / {os.cpu_count()} CPUs | wall ratio (target <= 1.1) | peak RSS |',
             '|---:|---:|---:|---:|---:|---:|---:|---:|']
    for row in rows:
        floor = CpuUse(**row['cpu_ledger']).floor
        cpu_ratio = row['engine_cpu_ms_per_name'] / row['floor_cpu_ms_per_name']
        wall_ratio = row['engine_seconds'] / floor
        lines.append(f"| {row['names']} | {row['engine_cpu_ms_per_name']:.2f} ms "
                     f"| {row['floor_cpu_ms_per_name']:.2f} ms ({row['floor_calls_per_name']:.1f}) "
                     f"| {cpu_ratio:.2f} {'yes' if cpu_ratio <= 1.25 else 'NO'} | {row['engine_seconds'] * 1000:.0f} ms "
                     f"| {floor * 1000:.0f} ms | {wall_ratio:.2f} {'yes' if wall_ratio <= 1.1 else 'NO'} "
                     f"| {row['max_rss_kib'] / 1024:.1f} MiB |")
    if len(rows) >= 2:
        low, high = rows[0], rows[-1]
        growth = (high['max_rss_kib'] - low['max_rss_kib']) / (high['names'] - low['names'])
        lines.append(f"\nPeak RSS grows by {growth:.1f} KiB per name between {low['names']} and {high['names']} names.")
    return '\n'.join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--names', type=int, nargs='+', default=[30, 500])
    parser.add_argument('--rtt-ms', type=float, default=50)
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--concurrency', type=int, default=None,
                        help="the lookup's concurrency option (default: the lookup's default)")
    parser.add_argument('--json', type=Path, help='also write the measurements here')
    parser.add_argument('--engine-alone', type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine_alone:
        engine_alone(args.engine_alone)
        return
    if os.geteuid() != 0:
        raise SystemExit('run as root: the lab binds ports 53 and 443 on loopback addresses')
    rows = [measure(count, args.rtt_ms / 1000, args.repeat, args.concurrency) for count in args.names]
    print(f'RTT {args.rtt_ms:g} ms, median of {args.repeat} runs, '
          f'concurrency {args.concurrency or "default"}\n')
    print('| names | one query() (lookup) | same, whole task | engine alone, no Ansible '
          '| longest chain alone | chain in RTTs | ratio | target <= 1.25 |')
    print('|---:|---:|---:|---:|---:|---:|---:|:---:|')
    for row in rows:
        print(f"| {row['names']} | {row['all_seconds'] * 1000:.0f} ms | {row['task_seconds'] * 1000:.0f} ms "
              f"| {row['engine_seconds'] * 1000:.0f} ms "
              f"| {row['single_seconds'] * 1000:.0f} ms | {row['single_round_trips']:.1f} "
              f"| {row['ratio']:.2f} | {'yes' if row['ratio'] <= 1.25 else 'NO'} |")
    print(engine_table(rows))
    for row in rows:
        cpu = row['cpu_seconds_last_run']
        print(f"\n{row['names']} names (load average {row['load_average_before']:.1f} before), "
              f"whole ansible-playbook run: {cpu['wall']:.1f} s wall, "
              f"{cpu['ansible_playbook']:.1f} s CPU in ansible-playbook, "
              f"{cpu['latency_relays']:.1f} s CPU in the latency relays ({os.cpu_count()} CPUs).")
    print('\nWhere the CPU went while the engine alone resolved all names (last run):\n')
    print(ledger_table(rows, 'engine'))
    chain = rows[-1]['chain']
    print(f"\nThe longest chain alone made {chain['dns_queries']} DNS queries and "
          f"{chain['tcp_connections']} TCP connection(s) through the delaying relays.")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2), encoding='utf-8')


if __name__ == '__main__':
    main()
