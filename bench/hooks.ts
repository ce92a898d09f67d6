// What decided the connection tracker's shape, measured with kernel.bpf_stats_enabled on the same events (a connect
// storm through the lab's node): reading a socket in tp_btf (plain loads) against raw_tp (probe reads), the hash
// lookup an in-kernel netns filter would add to every event, and the tracker's own program as it ships; then the
// user-space netns filter's cost per drained record.
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { NetnsScope } from '../src/kernel/netns-scope';
import { addon, type NativeNetnsIterator } from '../src/native';
import { programIdsHeldBy } from '../test/helpers/env';
import { buildCTool } from '../test/lab/c-tools';
import { run } from '../test/lab/netns';
import { loadedPrograms, withBpfStats, type ProgStats } from './bpf-stats';
import { stormLab } from './connect-storm';
import type { Bench } from './types';

const ROOT = path.resolve(__dirname, '..', '..');
const RECORDS = 100_000;

/** bench/hooks.bpf.c, built against the vmlinux.h the addon's build generated. */
async function hooksObject(): Promise<string> {
  const out = path.join(ROOT, 'build', 'c-tools', 'hooks.bpf.o');
  const arch = os.arch() === 'arm64' ? 'arm64' : 'x86';
  await run('clang', ['-g', '-O2', '-Wall', '-target', 'bpf', `-D__TARGET_ARCH_${arch}`, '-I', path.join(ROOT, 'build', 'Release', 'obj', 'gen', 'bpf'),
    '-I', path.join(ROOT, 'native', 'bpf'), '-I', `/usr/include/${os.arch() === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`, '-c', path.join(ROOT, 'bench', 'hooks.bpf.c'), '-o', out]);
  return out;
}

/** ns per record of NetnsScope.keep over RECORDS records of 20 namespaces, half of them the node's. */
async function userSpaceFilter(): Promise<number> {
  const iterator: NativeNetnsIterator = { start: async () => ({ log: [] }), read: async () => Array.from({ length: 10 }, (_, i) => i), stop: () => undefined };
  const scope = new NetnsScope({
    btfPath: '/dev/null', refreshMs: Infinity, maxAgeMs: Infinity, logger: pino({ level: 'silent' }),
    native: () => ({ NetnsIterator: class { constructor() { return iterator; } } as never }),
  });
  await scope.start();
  const records = Array.from({ length: RECORDS }, (_, i) => ({ netns: i % 20 }));
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    const t0 = performance.now();
    await scope.keep(records);
    best = Math.min(best, ((performance.now() - t0) * 1e6) / RECORDS);
  }
  await scope.stop();
  return best;
}

export async function hooksBench(): Promise<Bench> {
  const loader = await buildCTool('bench/bpfload.c', ['-lbpf']);
  const object = await hooksObject();
  const storm = await stormLab();
  const tracker = new (addon().ConnTracker)();
  const held = spawn(loader, [object], { stdio: ['pipe', 'pipe', 'inherit'] });
  try {
    await tracker.start({ btfPath: '', maxKeys: 16384, maxPending: 16384 });
    const ids = JSON.parse(await new Promise<string>((resolve, reject) => {
      held.stdout!.once('data', (d: Buffer) => resolve(d.toString()));
      held.once('exit', (code) => reject(new Error(`bpfload exited ${code}`)));
    })) as Record<string, number>;
    const shipped = programIdsHeldBy(process.pid);
    const s = await withBpfStats(() => storm.storm());
    const byId = await loadedPrograms();
    const conn = [...byId.values()].find((p) => shipped.includes(p.id) && p.name === 'conn_state');
    const rows: [string, string, string, ProgStats | undefined][] = [
      ['tp_btf_read', 'tp_btf', 'reads the key (netns, addresses, port): plain loads', byId.get(ids.tp_btf_read!)],
      ['raw_tp_read', 'raw_tp', 'reads the same key: probe reads (BPF_CORE_READ)', byId.get(ids.raw_tp_read!)],
      ['tp_btf_read_scope', 'tp_btf', 'the same plain loads after a hash lookup of the netns (an in-kernel filter)', byId.get(ids.tp_btf_read_scope!)],
      ['conn_state (shipped)', 'tp_btf', 'connections.bpf.c: state filter first, then key, counts, SYN times', conn],
    ];
    const ns = (p?: ProgStats) => (p?.run_cnt ? p.run_time_ns! / p.run_cnt : NaN);
    const [tp, raw, scoped, shipping] = rows.map((r) => ns(r[3])) as [number, number, number, number];
    const perRecord = await userSpaceFilter();
    const events = rows[0]![3]?.run_cnt ?? 0;
    return {
      title: `BPF hooks on sock:inet_sock_set_state: cost per event during a connect storm (${Math.round(s.rate).toLocaleString('en-US')} connects/s), kernel.bpf_stats_enabled`,
      header: ['program', 'hook', 'per event', 'runs', 'ns per run (mean)', 'recursion misses'],
      rows: [
        ...rows.map(([name, hook, what, p]) => [name, hook, what, (p?.run_cnt ?? 0).toLocaleString('en-US'), ns(p).toFixed(1), String(p?.recursion_misses ?? 0)]),
        ['NetnsScope.keep (user space)', '–', `filters drained records by netns (${RECORDS.toLocaleString('en-US')} records, 20 namespaces)`, '–', `${perRecord.toFixed(1)} per record`, '–'],
      ],
      notes: [
        `${(events / (s.connects + s.failed)).toFixed(1)} state changes per connect (client and server sockets); bpf_stats adds its own two clock reads to every run, alike for all.`,
        `tp_btf: ${(raw - tp).toFixed(1)} ns per event less than raw_tp for the same reads, so connections.bpf.c is tp_btf only (the tracepoint has had a btf_trace_ type since tp_btf exists).`,
        `An in-kernel netns filter would cost ${(scoped - tp).toFixed(1)} ns on every counted event on every node, where on a real node it never filters anything out; the user-space filter costs ${perRecord.toFixed(1)} ns per drained record (an aggregated key, not an event), only with --netns-scope pid-namespace: the scope is applied in user space, at drain.`,
        `The shipped program: ${shipping.toFixed(1)} ns per event on average, most events leaving at its first test (a state change it does not count): ${((shipping * events) / (s.connects + s.failed)).toFixed(0)} ns per connect.`,
      ],
      floors: [
        { what: 'tp_btf reads cheaper than raw_tp\'s', ok: tp < raw, value: `${tp.toFixed(1)} vs ${raw.toFixed(1)} ns` },
      ],
    };
  } finally {
    held.stdin!.end();
    tracker.stop();
    await storm.destroy();
  }
}
