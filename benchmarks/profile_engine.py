"""Where the engine's CPU goes at N names: a profile beside the libraries' floor.

Builds the lab of `discovery.py` or `federation_check.py` once (real BIND and nginx behind the
delaying relays of tests/lab/latency.py), then runs the engine alone in a fresh Python
process once per variant and prints, per variant, against the libraries' floor measured in
the same process after it (`_floor.py`):

* CPU per name, split into user and system time (thread switches and futex waits land in
  system time), voluntary and involuntary context switches per name;
* the threads started (by name prefix) and the most alive at once (the engine on its loop
  starts none: any thread here is a regression);
* how long the loop waited in select() with nothing to run (per tenth of the run), and how
  long the process was ready to run but waited for a CPU (`run_delay` of
  /proc/self/schedstat): with the CPU time, these add up to the wall time, so they tell
  whether names waited on the network, on the engine or on the machine;
* with `--profile`, the functions that used the most CPU, from a cProfile of every thread
  timed with each thread's own CPU clock (so waiting is not counted; the profiler itself adds
  about as much CPU again, so read shares, not absolute times); `--stats FILE` also writes
  that profile for pstats.

CPU includes the processes federation_check forks to share many names (`_processes`); the
loop's waits and the CPU wait are those of the first process only.

Variants (`--variant`, repeatable, `key=value,...`): `concurrency` (names at once),
`processes` (federation_check only: processes sharing the names); nothing given: the
default. (The variants of the threaded engine, its query pool, switch interval and
an asyncio DNS loop beside the threads, went with it; their figures are in the README.)

Run as root from the checkout (the lab binds ports 53, 443, 8448 on loopback), as `make
benchmark` does, in a network namespace of its own:
    unshare --net -- bash -c 'ip link set lo up && exec .venv/bin/python benchmarks/profile_engine.py \
        --kind discovery --names 500 --profile'
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _checkout import use_checkout_as_collection  # noqa: E402  (beside this script)

use_checkout_as_collection()

ZONE = 'bench.test'


class _Usage:
    """User and system CPU seconds and context switches of this process and the children it
    reaped (federation_check's forked shares), from one point on."""

    def __init__(self):
        self.start = _rusage()

    def since(self, per):
        now = _rusage()
        return {key + suffix: (now[key] - self.start[key]) * scale / per
                for key, suffix, scale in (('user', '_ms', 1000), ('system', '_ms', 1000),
                                           ('voluntary', '_switches', 1), ('involuntary', '_switches', 1))}


def _rusage(whose=(resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)):
    total = {'user': 0.0, 'system': 0.0, 'voluntary': 0, 'involuntary': 0}
    for who in whose:
        usage = resource.getrusage(who)
        total['user'] += usage.ru_utime
        total['system'] += usage.ru_stime
        total['voluntary'] += usage.ru_nvcsw
        total['involuntary'] += usage.ru_nivcsw
    return total


def _install_thread_accounting(profile):
    """Count threads started (by name prefix) and, with ``profile``, profile each with its own CPU clock."""
    import cProfile  # pylint: disable=import-outside-toplevel
    import threading  # pylint: disable=import-outside-toplevel
    started, profiles, alive = {}, [], {'now': 0, 'most': 0}
    lock = threading.Lock()
    original_start, original_run = threading.Thread.start, threading.Thread.run

    def start(thread):
        # "matrix-names_3" and "ThreadPoolExecutor-7_0": the pool's name, without numbers.
        prefix = re.sub(r'-[0-9]+\Z', '', thread.name.rsplit('_', 1)[0])
        with lock:
            started[prefix] = started.get(prefix, 0) + 1
        original_start(thread)

    def run(thread):
        with lock:
            alive['now'] += 1
            alive['most'] = max(alive['most'], alive['now'])
        profiler = cProfile.Profile(time.thread_time) if profile else None
        try:
            if profiler is None:
                original_run(thread)
            else:
                profiler.enable()
                try:
                    original_run(thread)
                finally:
                    profiler.disable()
                    with lock:
                        profiles.append(profiler)
        finally:
            with lock:
                alive['now'] -= 1
    threading.Thread.start, threading.Thread.run = start, run
    return started, profiles, alive


def _profile_summary(profiles, names, stats_path=None, top=25):
    """The functions with the most own CPU (ms per name), and shares of a few groups."""
    import pstats  # pylint: disable=import-outside-toplevel
    stats = pstats.Stats(profiles[0])
    for profiler in profiles[1:]:
        stats.add(profiler)
    if stats_path:
        stats.dump_stats(stats_path)
    rows = []
    total = 0.0
    for (filename, line, function), (_cc, calls, tottime, _cumtime, _callers) in stats.stats.items():
        total += tottime
        rows.append((tottime, calls, '%s:%d(%s)' % (_short(filename), line, function)))
    rows.sort(reverse=True)
    groups = {}
    for tottime, _calls, label in rows:
        groups[_group(label)] = groups.get(_group(label), 0.0) + tottime
    return {'profiled_ms_per_name': total * 1000 / names,
            'top': [{'ms_per_name': tottime * 1000 / names, 'calls_per_name': calls / names, 'function': label}
                    for tottime, calls, label in rows[:top]],
            'groups': {group: seconds * 1000 / names for group, seconds in
                       sorted(groups.items(), key=lambda item: -item[1])}}


def _short(filename):
    for marker in ('site-packages/', 'lib/python3', 'ansible_collections/homeserver/delegation/'):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


def _group(label):
    """A coarse group for a profiled function."""
    if 'acquire' in label or 'Condition' in label or 'threading.py' in label and 'wait' in label:
        return 'locks and waits (threading)'
    if 'threading.py' in label or 'concurrent/futures' in label or 'thread.py' in label:
        return 'thread pools and thread start'
    if label.startswith('dns/'):
        return 'dnspython'
    if 'ssl' in label or 'do_handshake' in label or 'load_verify' in label:
        return 'ssl'
    if 'http/client' in label or 'email/' in label:
        return 'http.client'
    if 'socket' in label or 'select' in label or 'poll' in label:
        return 'sockets and select'
    if 'plugins/module_utils/' in label:
        return 'engine (plugins/module_utils)'
    return 'other'


def _install_idle_accounting(loop_module):
    """Record when and how long the loop waited in select() with nothing to run."""
    waits = []
    original_init = loop_module.Loop.__init__

    def init(loop):
        original_init(loop)
        select = loop._selector.select  # pylint: disable=protected-access

        def timed_select(timeout=None):
            started = time.monotonic()
            try:
                return select(timeout)
            finally:
                waits.append((started, time.monotonic() - started))
        loop._selector.select = timed_select  # pylint: disable=protected-access
    loop_module.Loop.__init__ = init
    return waits


def _idle_summary(waits, started, seconds, parts=10):
    """The loop's time waiting in select(), in ms, per tenth of the run."""
    bins = [0.0] * parts
    for at, waited in waits:
        # Spread each wait over the tenths it spans.
        begin, end = at - started, at - started + waited
        for index in range(parts):
            low, high = seconds * index / parts, seconds * (index + 1) / parts
            bins[index] += max(0.0, min(end, high) - max(begin, low))
    return {'idle_ms': sum(waited for _at, waited in waits) * 1000, 'selects': len(waits),
            'idle_ms_per_tenth': [value * 1000 for value in bins]}


def _children_cpu():
    """CPU seconds of the children this process reaped."""
    usage = _rusage((resource.RUSAGE_CHILDREN,))
    return usage['user'] + usage['system']


def _run_delay_ms():
    """Milliseconds this process has been runnable but not running (/proc/self/schedstat)."""
    try:
        return int(Path('/proc/self/schedstat').read_text(encoding='ascii').split()[1]) / 1e6
    except (OSError, IndexError, ValueError):
        return float('nan')


def child(job_path: Path) -> None:
    """Run in a fresh process: the engine on all names, then the floor; print JSON."""
    job = json.loads(job_path.read_text(encoding='utf-8'))
    variant = job['variant']
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    # pylint: disable=import-outside-toplevel
    from _floor import LibraryCalls, discovery_steps, federation_steps, floor_per_name
    from ansible_collections.homeserver.delegation.plugins.module_utils import _discovery, _loop
    from ansible_collections.homeserver.delegation.plugins.module_utils._connection import transport_from_options
    from ansible_collections.homeserver.delegation.plugins.module_utils._federation import federation_check
    started_threads, profiles, alive = _install_thread_accounting(job['profile'])
    waits = _install_idle_accounting(_loop)
    transport = transport_from_options(job['options'])
    names = job['names']
    concurrency = variant.get('concurrency')
    concurrency = int(concurrency) if concurrency else None
    import cProfile
    main_profile = cProfile.Profile(time.thread_time) if job['profile'] else None
    usage = _Usage()
    run_delay = _run_delay_ms()
    started, cpu_started, children_cpu_started = time.monotonic(), time.process_time(), _children_cpu()
    if main_profile is not None:
        main_profile.enable()
    if job['kind'] == 'discovery':
        results = _discovery.ServerDiscovery(transport).resolve_many(names, concurrency=concurrency)
        failed = sum(1 for result in results if isinstance(result, _discovery.DiscoveryError))
    else:
        processes = variant.get('processes')
        result = federation_check(transport, names, concurrency, processes=int(processes) if processes else None)
        failed = sum(1 for report in result['servers'].values() if not report['federation_ok'])
    if main_profile is not None:
        main_profile.disable()
        profiles.append(main_profile)
    seconds = time.monotonic() - started
    cpu_seconds = time.process_time() - cpu_started + _children_cpu() - children_cpu_started
    run_delay = _run_delay_ms() - run_delay
    engine_usage = usage.since(len(names))
    max_rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = {'variant': variant, 'seconds': seconds, 'cpu_ms_per_name': cpu_seconds * 1000 / len(names),
           'usage': engine_usage, 'failed': failed, 'threads_started': dict(started_threads),
           'most_threads_alive': alive['most'], 'max_rss_kib': max_rss_kib,
           'idle': dict(_idle_summary(waits, started, seconds), run_delay_ms=run_delay)}
    if job['profile']:
        out['profile'] = _profile_summary(profiles, len(names), job.get('stats'))
    direct = LibraryCalls(job['direct'])
    steps = (discovery_steps(direct, job['origin_address'], ZONE) if job['kind'] == 'discovery'
             else federation_steps(direct, job['origin_address']))
    floor_usage = _Usage()
    out['floor'] = floor_per_name(steps, names)
    out['floor']['usage'] = floor_usage.since(out['floor']['names'] + 1)
    print(json.dumps(out))


def run_child(job: dict, workdir: Path) -> dict:
    path = workdir / f'job-{time.monotonic_ns()}.json'
    path.write_text(json.dumps(job), encoding='utf-8')
    run = subprocess.run([sys.executable, __file__, '--child', str(path)], capture_output=True, text=True,
                         check=False)
    if run.returncode != 0:
        raise SystemExit(f'engine run failed:\n{run.stdout}\n{run.stderr[-4000:]}')
    return json.loads(run.stdout)


def parse_variant(text: str) -> dict:
    variant = {}
    for item in filter(None, text.split(',')):
        key, value = item.split('=', 1)
        variant[key.strip()] = value.strip()
    return variant


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--kind', choices=('discovery', 'federation'), default='discovery')
    parser.add_argument('--names', type=int, default=500)
    parser.add_argument('--rtt-ms', type=float, default=50)
    parser.add_argument('--repeat', type=int, default=1)
    parser.add_argument('--profile', action='store_true', help='also profile every thread (slower)')
    parser.add_argument('--variant', action='append', type=parse_variant, help='key=value,... (see the docstring)')
    parser.add_argument('--json', type=Path, help='also write the measurements here')
    parser.add_argument('--stats', type=Path, help='with --profile, write the last profile here (pstats)')
    parser.add_argument('--child', type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    if os.geteuid() != 0:
        raise SystemExit('run as root: the lab binds ports 53, 443 and 8448 on loopback addresses')
    # pylint: disable=import-outside-toplevel
    from _cpu import CpuLedger
    from ansible_collections.homeserver.delegation.tests.lab.lab import Lab
    from ansible_collections.homeserver.delegation.tests.lab.latency import LatencyInjector
    if args.kind == 'discovery':
        from discovery import build
    else:
        from federation_check import build
    variants = args.variant or [{}]
    rows = []
    with Lab() as lab, LatencyInjector(rtt=args.rtt_ms / 1000, lifetime=1800) as latency, \
            tempfile.TemporaryDirectory() as workdir:
        proxy_address = lab.new_ipv4()
        forwarder = lab.net.ipv4(55)
        names, origin_address = build(lab, args.names, proxy_address)
        latency.dns_forwarder((forwarder, 53), (lab.bind.address, lab.bind.port))
        latency.tcp_proxy((proxy_address, 443), (origin_address, 443))
        latency.tcp_proxy((proxy_address, 8448), (origin_address, 8448))
        options = {'nameservers': [forwarder], 'dns_port': 53, 'ca_path': lab.ca_path, 'timeout': 30}
        direct = {'nameservers': [lab.bind.address], 'dns_port': lab.bind.port, 'ca_path': lab.ca_path,
                  'timeout': 30}
        job = {'kind': args.kind, 'options': options, 'direct': direct, 'origin_address': origin_address,
               'stats': str(args.stats.resolve()) if args.stats else None}
        run_child(dict(job, names=names[:2], variant={}, profile=False), Path(workdir))  # warm-up
        for _round in range(args.repeat):
            for variant in variants:
                for profile in ([False, True] if args.profile else [False]):
                    with CpuLedger(lab) as ledger:
                        row = run_child(dict(job, names=names, variant=variant, profile=profile), Path(workdir))
                    cpu = ledger.result(row['cpu_ms_per_name'] * len(names) / 1000)
                    row.update(profile_run=profile, names=len(names), load_before=os.getloadavg()[0],
                               all_cpu_over_cpus_ms=cpu.floor * 1000)
                    rows.append(row)
                    print_row(row)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2), encoding='utf-8')


def print_row(row: dict) -> None:
    usage, floor = row['usage'], row['floor']
    print(f"\n## {row['names']} names, variant {row['variant'] or 'default'}"
          f"{' (profiled: times inflated)' if row['profile_run'] else ''}, failed {row['failed']}")
    print(f"wall {row['seconds'] * 1000:.0f} ms; all parts' CPU / {os.cpu_count()} CPUs "
          f"{row['all_cpu_over_cpus_ms']:.0f} ms (wall ratio {row['seconds'] * 1000 / row['all_cpu_over_cpus_ms']:.2f}); "
          f"peak RSS {row['max_rss_kib'] / 1024:.1f} MiB (first process)")
    print(f"engine CPU per name {row['cpu_ms_per_name']:.2f} ms (user {usage['user_ms']:.2f}, system "
          f"{usage['system_ms']:.2f}; switches {usage['voluntary_switches']:.1f} voluntary, "
          f"{usage['involuntary_switches']:.1f} involuntary per name)")
    print(f"floor CPU per name {floor['cpu_ms_per_name']:.2f} ms (user {floor['usage']['user_ms']:.2f}, system "
          f"{floor['usage']['system_ms']:.2f}; switches {floor['usage']['voluntary_switches']:.1f} voluntary, "
          f"{floor['usage']['involuntary_switches']:.1f} involuntary per name); "
          f"CPU ratio {row['cpu_ms_per_name'] / floor['cpu_ms_per_name']:.2f}")
    print(f"threads started {row['threads_started']}, at most {row['most_threads_alive']} alive at once")
    idle = row['idle']
    print(f"the loop waited {idle['idle_ms']:.0f} ms in {idle['selects']} select() calls; per tenth of the run (ms): "
          + ' '.join(f"{value:.0f}" for value in idle['idle_ms_per_tenth']))
    print(f"the engine was ready but not running (waiting for a CPU) for {idle['run_delay_ms']:.0f} ms")
    profile = row.get('profile')
    if profile:
        print(f"\nprofiled CPU per name {profile['profiled_ms_per_name']:.2f} ms; by group (ms per name):")
        for group, value in profile['groups'].items():
            print(f"  {value:6.3f}  {group}")
        print('top functions by own CPU (ms per name, calls per name):')
        for item in profile['top']:
            print(f"  {item['ms_per_name']:6.3f} {item['calls_per_name']:7.1f}  {item['function']}")
    sys.stdout.flush()


if __name__ == '__main__':
    main()
