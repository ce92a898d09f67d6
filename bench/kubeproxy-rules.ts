// kube-proxy's rules at 10,000 Services × 2 endpoints (80,000 rules) in a throwaway netns, per iptables
// backend: `iptables-save -c` alone, against flapwatch's whole read (nft: the same child, streamed into the
// parser and the model; legacy: the tables from the kernel through the addon, and for comparison the child's
// text), and the cheap per-interval read of the drop and reject rules. The child's peak RSS comes from
// /usr/bin/time; flapwatch's extra heap and RSS are their peaks over a collected baseline (sampled every 2 ms
// and at the end), and what the returned model keeps. Runs alternate between variants, so that load falls on
// all alike.
import { spawn as nodeSpawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { run, type Spawn } from '../src/kubeproxy/command';
import { readIptablesDump, readLegacyFilter, readNftFilter, type Backend, type DumpOptions } from '../src/kubeproxy/dumps';
import { IptablesModelBuilder } from '../src/kubeproxy/iptables-model';
import type { RulesModel } from '../src/kubeproxy/model';
import { renderIptables } from '../test/kubeproxy/render';
import { makeServices } from '../test/kubeproxy/services';
import type { Bench } from './types';

export const SERVICES = 10_000;
/** The benchmark's Services: plain ClusterIP Services with two endpoints each, and the cluster's pod CIDR. */
export const benchServices = () => makeServices(SERVICES, { variety: false });
export const CLUSTER_CIDR = '10.0.0.0/8';
const RUNS = 5;
// the daemon reads every interval: its JIT is warm after its first few reads, so the bench's is too
const WARM_UP = 3;
const TIME = '/usr/bin/time';

export interface Row {
  backend: Backend;
  what: string;
  /** median wall time over RUNS */
  seconds: number;
  /** the same, each run right after a forced full GC (the heap runs) */
  afterGcSeconds?: number;
  /** the child's peak RSS */
  childMB?: number;
  /** flapwatch's own RSS above a collected baseline, at its peak: the addon's buffers for a kernel read */
  peakRssMB?: number;
  /** flapwatch's heap above a collected baseline: peak during the read, and what the model keeps */
  peakHeapMB?: number;
  retainedHeapMB?: number;
}

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** Runs children under /usr/bin/time inside the netns, reporting their peak RSS into `out`. */
function timed(out: string): Spawn {
  return (file, args, opts) => {
    const inner = file === 'ip' && args[0] === 'netns' ? 3 : 0;
    const argv = [...args.slice(0, inner), TIME, '-f', '%M', '-o', out, ...(inner ? args.slice(inner) : [file, ...args])];
    return inner ? nodeSpawn(file, argv, opts) : nodeSpawn(argv[0]!, argv.slice(1), opts);
  };
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
// heapUsed without process.memoryUsage()'s RSS read, which cost the sampled read ~0.1 ms each 2 ms
const heapUsed = () => v8.getHeapStatistics().used_heap_size;

/** A full GC once the last read's child process and streams have let go of it (they do a tick after it ends). */
export async function collected(): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, 20));
  gc();
  return heapUsed();
}

export interface Variant {
  what: string;
  once: (spawn: Spawn) => Promise<unknown>;
  /** sample flapwatch's heap during the read, and weigh what the result keeps */
  heap?: boolean;
  /** runs no child (the addon reads the kernel): no child RSS to report */
  childless?: boolean;
}

/**
 * RUNS timed runs of each variant after WARM_UP untimed ones, interleaved so that other work on the machine
 * falls on every variant alike; then, for those that weigh the heap, RUNS rounds of a timed run right after a
 * forced GC and a sampled one.
 * The timed runs force no GC: in trials a kernel read right after one took 0.1 s more, in user CPU (the parser
 * alone on a buffer did not), and the daemon never forces one before a read; the post-GC times are reported
 * beside. Returns the last results too (the sampled runs', for those).
 */
export async function measure(backend: Backend, variants: Variant[]): Promise<[Row[], unknown[]]> {
  const out = path.join(os.tmpdir(), `fwkp-time-${process.pid}`);
  const times = variants.map((): number[] => []);
  const afterGc = variants.map((): number[] => []);
  const child = variants.map((): number[] => []);
  const peak = variants.map(() => 0);
  const rssPeak = variants.map(() => 0);
  const kept = variants.map(() => 0);
  let last: unknown[] = [];
  const timedOnce = async (v: Variant): Promise<[number, unknown]> => {
    const t0 = process.hrtime.bigint();
    const result = await v.once(timed(out));
    return [Number(process.hrtime.bigint() - t0) / 1e9, result];
  };
  for (let i = 0; i < WARM_UP; i++) for (const v of variants) await v.once(timed(out));
  // the timed rounds first: none of them follows a forced GC
  for (let i = 0; i < RUNS; i++) {
    last = [];
    for (const [k, v] of variants.entries()) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      const [seconds, result] = await timedOnce(v);
      times[k]!.push(seconds);
      if (!v.childless) child[k]!.push(Number(readFileSync(out, 'utf8').trim().split('\n').pop()) / 1024);
      last.push(result);
    }
  }
  // then, for the variants that weigh the heap: an unsampled run right after a forced GC, and a sampled one
  for (let i = 0; i < RUNS; i++) {
    for (const [k, v] of variants.entries()) {
      if (!v.heap) continue;
      last[k] = undefined;
      await collected();
      afterGc[k]!.push((await timedOnce(v))[0]);
      const base = await collected();
      const rssBase = process.memoryUsage.rss();
      let top = base;
      let rssTop = rssBase;
      const sample = () => {
        top = Math.max(top, heapUsed());
        rssTop = Math.max(rssTop, process.memoryUsage.rss());
      };
      const sampler = setInterval(sample, 2);
      let result: unknown = await v.once(timed(out));
      clearInterval(sampler);
      sample();
      peak[k] = Math.max(peak[k]!, top - base);
      rssPeak[k] = Math.max(rssPeak[k]!, rssTop - rssBase);
      // what the result keeps: the heap with it, less the heap once it is dropped (the last run's is returned)
      const holding = await collected();
      if (i < RUNS - 1) {
        result = undefined;
        kept[k] = Math.max(kept[k]!, holding - (await collected()));
      }
      last[k] = result;
    }
  }
  rmSync(out, { force: true });
  const rows = variants.map((v, k): Row => ({
    backend, what: v.what, seconds: median(times[k]!), ...(v.childless ? {} : { childMB: median(child[k]!) }),
    ...(v.heap ? { afterGcSeconds: median(afterGc[k]!), peakHeapMB: peak[k]! / 2 ** 20, retainedHeapMB: kept[k]! / 2 ** 20, peakRssMB: rssPeak[k]! / 2 ** 20 } : {}),
  }));
  return [rows, last];
}

/** flapwatch's whole read of the benchmark's rules in `netns`: the dump, the parser and the model. */
export function fullRead(what: string, backend: Backend, netns: string, legacyVia?: DumpOptions['legacyVia']): Variant {
  return {
    what, heap: true, childless: legacyVia === 'kernel',
    once: async (spawn): Promise<RulesModel> => {
      const builder = new IptablesModelBuilder();
      const dump = await readIptablesDump(backend, 'ipv4', builder, { netns, spawn, legacyVia });
      const m = builder.finish(dump.summary);
      if (m.services.size !== SERVICES) throw new Error(`read ${m.services.size} Services, not ${SERVICES}`);
      return m;
    },
  };
}

export async function benchRules(): Promise<Row[]> {
  if (process.getuid?.() !== 0) throw new Error('the kube-proxy rules benchmark needs root (ip netns add)');
  const netns = `fwkp${randomBytes(4).toString('hex')}`;
  const rules = renderIptables(benchServices(), { clusterCIDR: CLUSTER_CIDR });
  const rows: Row[] = [];
  await run(['ip', 'netns', 'add', netns]);
  try {
    for (const backend of ['nft', 'legacy'] as const) {
      const restore = await new Promise<number | null>((resolve, reject) => {
        const c = nodeSpawn('ip', ['netns', 'exec', netns, `iptables-${backend}-restore`, '-w'], { stdio: ['pipe', 'ignore', 'inherit'] });
        c.once('error', reject).once('close', resolve);
        c.stdin.end(rules);
      });
      if (restore !== 0) throw new Error(`iptables-${backend}-restore failed`);
      const save = [`iptables-${backend}-save`, '-c'];
      const full = (what: string, legacyVia?: DumpOptions['legacyVia']) => fullRead(what, backend, netns, legacyVia);
      const [[alone, whole, ...others], [, model]] = await measure(backend, [
        { what: '`iptables-save -c` alone (stdout to /dev/null)', once: (spawn) => run(['sh', '-c', `exec ${save.join(' ')} > /dev/null`], { netns, spawn }) },
        ...(backend === 'nft'
          ? [full('flapwatch full read: the same child, parser and model')]
          : [full('flapwatch full read: the tables from the kernel (addon), parser and model', 'kernel'),
            full('for comparison: the same parser and model on the text of the child above', 'iptables-save')]),
      ]);
      const cheap: Variant = backend === 'nft'
        ? { what: 'per interval: `nft -j list table ip filter`, parsed', once: (spawn) => readNftFilter('ipv4', model as RulesModel, { netns, spawn }) }
        : { what: 'per interval: the filter table from the kernel (addon), parsed', childless: true, once: (spawn) => readLegacyFilter('ipv4', { netns, spawn }) };
      const filterAlone: Variant = { what: 'for comparison: `iptables-nft-save -c -t filter` alone', once: (spawn) => run(['sh', '-c', 'exec iptables-nft-save -c -t filter > /dev/null'], { netns, spawn }) };
      rows.push(alone!, whole!, ...others, ...(await measure(backend, backend === 'nft' ? [cheap, filterAlone] : [cheap]))[0]);
    }
  } finally {
    await run(['ip', 'netns', 'del', netns]);
  }
  return rows;
}

/** For bench/run.ts: the rows as a table, with the issue's floors checked. */
export async function rulesBench(): Promise<Bench> {
  const rows = await benchRules();
  const floors = (['nft', 'legacy'] as const).flatMap((b) => {
    const alone = rows.find((r) => r.backend === b && r.what.includes('alone'))!;
    const ours = rows.find((r) => r.backend === b && r.what.startsWith('flapwatch'))!;
    return [
      {
        what: `${b}: whole read ≤ 1.3× \`iptables-save -c\``, ok: ours.seconds <= 1.3 * alone.seconds,
        value: `${(ours.seconds / alone.seconds).toFixed(2)}× (${(ours.afterGcSeconds! / alone.seconds).toFixed(2)}× right after a forced GC)`,
      },
      { what: `${b}: ≤ 20 MB extra heap`, ok: ours.peakHeapMB! <= 20, value: `${ours.peakHeapMB!.toFixed(1)} MB peak, ${ours.retainedHeapMB!.toFixed(1)} MB kept` },
    ];
  });
  const mb = (x?: number) => (x === undefined ? '' : x.toFixed(1));
  // what counts against the DaemonSet's memory limit during a full read: a child's RSS, or the addon's buffers
  const pod = (['nft', 'legacy'] as const).map((b) => {
    const ours = rows.find((r) => r.backend === b && r.what.startsWith('flapwatch'))!;
    return `${b}: a full read adds ${((ours.childMB ?? 0) + ours.peakRssMB!).toFixed(0)} MB to the pod at its peak (${ours.childMB === undefined ? 'no child' : `child ${mb(ours.childMB)} MB`}, flapwatch's RSS +${mb(ours.peakRssMB)} MB)`;
  });
  return {
    title: `kube-proxy's rules: ${SERVICES.toLocaleString('en')} Services × 2 endpoints`,
    header: ['backend', 'read', 'time (s, median of 5)', 'right after a forced GC (s)', 'child peak RSS (MB)', 'flapwatch peak heap (MB)', 'flapwatch peak extra RSS (MB)', 'kept by the model (MB)'],
    rows: rows.map((r) => [r.backend, r.what, r.seconds.toFixed(3), r.afterGcSeconds?.toFixed(3) ?? '', mb(r.childMB), mb(r.peakHeapMB), mb(r.peakRssMB), mb(r.retainedHeapMB)]),
    floors,
    notes: [...pod, `load average at the end: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} (other work on the machine slows every row alike)`],
  };
}

