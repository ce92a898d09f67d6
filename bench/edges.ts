// The service graph's edge series at scale: 10,000 Services and 2,000 client workloads, each workload calling a
// few of them, fed to the daemon's edge metrics (flapwatch_edge_*) in-process as attributed connects, retransmits
// and drops would arrive each interval. Per variant, in a child process of its own: the series it exports, the
// time a scrape takes to render them, the time an interval's observations take to count, and the process's RSS
// and heap. The label cap (--label-cap, 2,000 by default) against no cap at all. The same file is the child:
// `node edges.js child CAP CALLS`.
import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { TextRegistry } from '../src/report/metrics/text-registry';
import { edgeMetrics } from '../src/report/metrics/edges';
import { median } from './daemon';
import { INTERVALS, observations, SERVICES, WORKLOADS } from './edge-load';
import { DAEMON_NODE_FLAGS, memoryMB } from './proc';
import type { Bench } from './types';

const SCRAPES = 5;
const SETTLE_MS = 10_000;
const DEFAULT_CAP = 2000;
const NO_CAP = 1_000_000;

interface Result {
  edges: number;
  series: number;
  scrapeMs: number;
  scrapeKB: number;
  addMs: number;
  /** counted, before any scrape */
  fedRssMB: number;
  /** VmHWM over the scrapes */
  scrapePeakMB: number;
  /** after the scrapes */
  rssMB: number;
  heapMB: number;
  baseRssMB: number;
}

/** A full GC, then time for V8's memory reducer to hand freed pages back (as in an idle daemon). */
async function settle(gc: () => void): Promise<void> {
  gc();
  await sleep(SETTLE_MS);
  gc();
}

async function child(cap: number, calls: number): Promise<Result> {
  const gc = (globalThis as { gc?: () => void }).gc!;
  gc();
  const baseRssMB = memoryMB(process.pid).rss;
  const registry = new TextRegistry();
  const metrics = edgeMetrics(registry, { labelCap: cap });
  const edges = WORKLOADS * calls;
  const adds: number[] = [];
  for (let round = 0; round < INTERVALS; round++) {
    const batch = observations(edges, round);
    const t0 = performance.now();
    metrics.add(batch);
    adds.push(performance.now() - t0);
  }
  await settle(gc);
  const fedRssMB = memoryMB(process.pid).rss;
  writeFileSync(`/proc/${process.pid}/clear_refs`, '5'); // VmHWM back to the current RSS: the scrapes' own peak
  const scrapes: number[] = [];
  let pieces: (string | Buffer)[] = [];
  for (let i = 0; i < SCRAPES; i++) {
    const t0 = performance.now();
    pieces = await registry.exposition(); // what /metrics sends
    scrapes.push(performance.now() - t0);
  }
  const scrapePeakMB = memoryMB(process.pid).peak;
  let text = pieces.join('');
  pieces = [];
  const series = text.split('\n').filter((l) => l && !l.startsWith('#')).length;
  const scrapeKB = Buffer.byteLength(text) / 1024;
  text = '';
  await settle(gc);
  return {
    edges, series, scrapeMs: median(scrapes), scrapeKB, addMs: median(adds),
    fedRssMB, scrapePeakMB, rssMB: memoryMB(process.pid).rss, heapMB: process.memoryUsage().heapUsed / 2 ** 20, baseRssMB,
  };
}

function runChild(cap: number, calls: number): Promise<Result> {
  return new Promise((resolve, reject) => {
    const c = fork(__filename, ['child', String(cap), String(calls)], { execArgv: ['--expose-gc', ...DAEMON_NODE_FLAGS], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    c.once('message', (m) => resolve(m as Result));
    c.once('exit', (code) => code && reject(new Error(`edges child exited ${code}`)));
  });
}

export async function edgesBench(): Promise<Bench> {
  const variants = [
    { calls: 1, cap: DEFAULT_CAP },
    { calls: 5, cap: DEFAULT_CAP },
    { calls: 5, cap: NO_CAP },
  ];
  const results = [];
  for (const v of variants) results.push({ ...v, r: await runChild(v.cap, v.calls) });
  const capped = results[1]!.r;
  const open = results[2]!.r;
  const n = (x: number) => Math.round(x).toLocaleString('en-US');
  return {
    title: `Service graph edges at scale: ${n(SERVICES)} Services, ${n(WORKLOADS)} client workloads, the edge metrics fed in-process`,
    header: ['edges offered (workloads × Services each calls)', '--label-cap', 'series exported', 'scrape: render ms (median of 5)', 'scrape size KB', 'counting one interval, ms', 'RSS MB counted, before a scrape (the bare process)', 'RSS MB at the scrapes\' peak', 'RSS MB after the scrapes', 'heap MB'],
    rows: results.map(({ calls, cap, r }) => [
      `${n(r.edges)} (${n(WORKLOADS)} × ${calls})`, cap === NO_CAP ? 'none (1,000,000)' : n(cap), n(r.series), r.scrapeMs.toFixed(0), n(r.scrapeKB),
      r.addMs.toFixed(1), `${r.fedRssMB.toFixed(1)} (${r.baseRssMB.toFixed(1)})`, r.scrapePeakMB.toFixed(1), r.rssMB.toFixed(1), r.heapMB.toFixed(1),
    ]),
    notes: [
      `Each edge, each of ${INTERVALS} intervals: one aggregated connect record (attempted, established, a latency slot); a tenth of the edges also a retransmit and a drop. Series: flapwatch_edge_connections_total (attempted, established), flapwatch_edge_connect_seconds (10 buckets, sum, count), flapwatch_edge_retransmits_total, flapwatch_edge_drops_total.`,
      `Past the cap an edge folds into client_kind alone (client_namespace, client_workload, namespace, service, port = "other"): the capped series stay ${n(capped.series)} however many edges there are; uncapped, ${n(open.series)} series take ${open.scrapeMs.toFixed(0)} ms to render and ${(open.scrapePeakMB - open.baseRssMB).toFixed(0)} MB of RSS at the scrapes' peak.`,
      `The cap counts edges, not series: each admitted edge is ${(capped.series / DEFAULT_CAP).toFixed(0)} series here (the histogram's 12 of them), so the default cap lets one node export ${n(capped.series)} edge series. Counting an interval of ${n(capped.edges)} active edges takes ${capped.addMs.toFixed(0)} ms of the daemon's main thread, once per --interval (1 s by default).`,
      'The series live in one store (src/report/metrics/edge-series.ts): per edge its label text, escaped once, and its counters in a shared Float64Array; a scrape writes them straight to text after prom-client\'s families. Before it they were prom-client Counters: their figures are this section\'s in the git history of bench/RESULTS.md.',
      `The whole daemon with these series, synced with ${n(SERVICES)} Services and scraped: bench kube.`,
      'Attribution (ClusterIP → Service, client address → workload) is left out: the records arrive attributed; the daemon\'s ServiceIndex at 10,000 Services is in bench kube.',
      `Each variant in a fresh node process with the daemon's flags (${DAEMON_NODE_FLAGS.join(' ')}), RSS and heap after a full GC and ${SETTLE_MS / 1000} s idle (RSS keeps some of what the GC freed, the records fed among it: heap is the steadier figure); the bare process's RSS before any metric; the peak is VmHWM over ${SCRAPES} scrapes, reset just before them. Load average at the end: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} (other work on the machine slows every row alike).`,
    ],
    floors: [
      { what: 'with the default cap, a scrape of the edge series renders in under 1 s', ok: capped.scrapeMs < 1000, value: `${capped.scrapeMs.toFixed(0)} ms` },
      { what: 'with the default cap, the edge series cost under 100 MB of RSS at the scrapes\' peak', ok: capped.scrapePeakMB - capped.baseRssMB < 100, value: `${(capped.scrapePeakMB - capped.baseRssMB).toFixed(1)} MB` },
    ],
  };
}

if (require.main === module && process.argv[2] === 'child') {
  child(Number(process.argv[3]), Number(process.argv[4])).then((r) => {
    process.send!(r);
    process.disconnect();
  });
}
