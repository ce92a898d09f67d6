// 10,000 Services and 50,000 endpoints (EndpointSlices of at most 100) from the fake API server in one child
// process, a KubeSource in another: time to the first complete publish, the source process's RSS (idle after
// the sync, and its peak) and heap, a full relist after 410 Gone, and a burst of 1,000 slice changes. In-cluster
// (what a DaemonSet runs: no client library) and through a kubeconfig (the client library loaded), each
// against a bare node process. The harness also runs @kubernetes/client-node's informers watching the same, for
// bench/handmade.ts. The same file is the children: `node kube-scale.js serve|source|informers|bare`.
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_BACKOFF } from '../src/kube/backoff';
import { median } from './daemon';
import { DAEMON_ENV, DAEMON_NODE_FLAGS, memoryMB } from './proc';
import type { Bench } from './types';

const SERVICES = 10_000;
const BIG = 50; // Services with 204 endpoints each, in three slices
const SMALL_ENDPOINTS = 4;
const BIG_ENDPOINTS = 204;
const NODES = 100;
const NODE = 'node-0';
const OTHER_PODS = 2_000;
const BURST = 1_000;
// V8's memory reducer gives the sync's garbage back some seconds after allocation stops
const IDLE_MS = 15_000;
const ROOT = path.resolve(__dirname, '..', '..');

type Msg = Record<string, unknown> & { type: string };

function waitMsg(child: ChildProcess, type: string, ms = 180_000): Promise<Msg> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${type}" from the child in ${ms / 1000} s`)), ms);
    const onMsg = (m: Msg) => {
      if (m.type !== type) return;
      clearTimeout(timer);
      child.off('message', onMsg);
      resolve(m);
    };
    child.on('message', onMsg);
    child.once('exit', (code) => reject(new Error(`child exited ${code} before "${type}"`)));
  });
}

const start = (role: string, args: string[] = [], execArgv: string[] = []) =>
  fork(__filename, [role, ...args], { execArgv: ['--expose-gc', ...execArgv], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });

/** V8 grows the young generation to 2 × 16 MB during the sync and keeps it: the daemon's one big lever. */
const SMALL_YOUNG = DAEMON_NODE_FLAGS;
const CLI = path.join(ROOT, 'dist', 'src', 'cli.js');
const FEED_EDGES = path.join(__dirname, 'feed-edges.js');
const SCRAPES = 5;

export interface KubeVariant {
  name: string;
  mode: 'in-cluster' | 'kubeconfig' | 'informers';
  execArgv: string[];
}
export const IN_CLUSTER: KubeVariant = { name: `in-cluster, node ${SMALL_YOUNG.join(' ')}`, mode: 'in-cluster', execArgv: SMALL_YOUNG };
export const KUBECONFIG: KubeVariant = { name: `kubeconfig (client library), ${SMALL_YOUNG.join(' ')}`, mode: 'kubeconfig', execArgv: SMALL_YOUNG };
export const INFORMERS: KubeVariant = { name: `@kubernetes/client-node's informers (kubeconfig), ${SMALL_YOUNG.join(' ')}`, mode: 'informers', execArgv: SMALL_YOUNG };
const VARIANTS: KubeVariant[] = [{ name: 'in-cluster', mode: 'in-cluster', execArgv: [] }, IN_CLUSTER, KUBECONFIG];

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

export interface KubeRun {
  mode: string;
  firstPublishS: number;
  ports: number;
  endpoints: number;
  stallMs: number;
  idleRss: number;
  peakRss: number;
  heapMB: number;
  relistS: number;
  relistPeakRss: number;
  burstS: number;
  burstSeen: string;
}

export interface ApiServer {
  server: ChildProcess;
  port: number;
  dir: string;
  /** a bare node process's RSS, idle */
  bareRss: number;
}

/** The fake API server with the benchmark's objects, over HTTPS, and a bare node process's RSS to weigh against. */
export async function withApiServer<T>(fn: (api: ApiServer) => Promise<T>): Promise<T> {
  const { tempDir, writeKubeconfig, writeServiceAccount } = await import('../test/kube/kubeconfig');
  const { selfSignedCert } = await import('../test/helpers/tls');
  const tmp = tempDir('fw-kube-bench-');
  const tls = selfSignedCert(tmp.dir);
  writeServiceAccount(tmp.dir, tls.cert);
  const server = start('serve', [tmp.dir]);
  try {
    const ready = await waitMsg(server, 'serving');
    const port = ready.port as number;
    writeKubeconfig(tmp.dir, `https://127.0.0.1:${port}`, { ca: tls.cert });
    const bare = start('bare');
    await waitMsg(bare, 'ready');
    await sleep(IDLE_MS);
    const bareRss = memoryMB(bare.pid!).rss;
    await stop(bare);
    return await fn({ server, port, dir: tmp.dir, bareRss });
  } finally {
    await stop(server);
    tmp.remove();
  }
}

/** One way of watching the API server's objects, in a child: its sync, memory, a full relist and a burst. */
export async function runSource({ server, port, dir }: ApiServer, v: KubeVariant): Promise<KubeRun> {
  const child = start(v.mode === 'informers' ? 'informers' : 'source', [v.mode, String(port), dir], v.execArgv);
  try {
    const synced = await waitMsg(child, 'synced');
    await sleep(IDLE_MS);
    const heap = await ask(child, 'heap');
    const idle = memoryMB(child.pid!);
    writeFileSync(`/proc/${child.pid}/clear_refs`, '5'); // VmHWM back to the current RSS: the relist's own peak
    const t0 = performance.now();
    const { rv } = await ask(server, 'relist');
    child.send({ type: 'await-relist', rv });
    await waitMsg(child, 'relisted');
    const relistS = (performance.now() - t0) / 1000;
    const relistPeak = memoryMB(child.pid!).peak;
    const t1 = performance.now();
    server.send({ type: 'burst' });
    const burst = await waitMsg(child, 'burst-seen');
    return {
      mode: v.name,
      firstPublishS: (synced.ms as number) / 1000,
      ports: synced.ports as number,
      endpoints: synced.endpoints as number,
      stallMs: synced.stallMs as number,
      idleRss: idle.rss,
      peakRss: idle.peak,
      heapMB: heap.heapMB as number,
      relistS,
      relistPeakRss: relistPeak,
      burstS: (performance.now() - t1) / 1000,
      burstSeen: burst.seen as string,
    };
  } finally {
    await stop(child);
  }
}

async function ask(child: ChildProcess, type: string): Promise<Msg> {
  const reply = waitMsg(child, type);
  child.send({ type });
  return reply;
}

interface DaemonRun {
  idle: number;
  peak: number;
  /** VmHWM over SCRAPES scrapes of /metrics, reset just before them */
  scrapePeak: number;
  /** RSS once the scrapes are done */
  scraped: number;
  scrapeMs: number;
  edgeSeries: number;
  relistPeak: number;
  syncS: number;
}

/** Scrapes `url` once: how long it took and its flapwatch_edge_* samples. */
function scrape(url: string): Promise<{ ms: number; edgeSeries: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ ms: performance.now() - t0, edgeSeries: text.split('\n').filter((l) => l.startsWith('flapwatch_edge_')).length }));
    }).once('error', reject);
  });
}

/**
 * The whole daemon, as a DaemonSet runs it (in-cluster, its node flags, every source on: the drop tracer, conntrack,
 * kube-proxy's rules, listen overflows, active probes), against the same API server: RSS once synced and idle, and
 * its peak (VmHWM) over the sync, over scrapes of its /metrics and over a full relist. With `edges`, the service
 * graph's load is fed to its edge metrics at start (bench/feed-edges.ts). Needs root for the tracer; without, that
 * part of its memory is missing.
 */
async function runDaemon({ server, port, dir }: ApiServer, edges: boolean): Promise<DaemonRun> {
  const child = spawn(process.execPath, [...DAEMON_NODE_FLAGS, ...(edges ? ['-r', FEED_EDGES] : []), CLI, 'run', '--listen', '127.0.0.1:0', '--node-name', NODE,
    '--serviceaccount-dir', path.join(dir, 'serviceaccount'), '--kubelet-url', 'none'], {
    env: { ...process.env, ...DAEMON_ENV, KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(port) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const t0 = performance.now();
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the daemon did not sync in 180 s:\n${out.slice(-2000)}`)), 180_000);
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (/"source":"kubernetes","up":true/.test(out)) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => reject(new Error(`the daemon exited ${code}:\n${out.slice(-2000)}`)));
    });
    const syncS = (performance.now() - t0) / 1000;
    const metricsUrl = `http://127.0.0.1:${/serving \/metrics.* on 127\.0\.0\.1:(\d+)/.exec(out)![1]}/metrics`;
    await sleep(IDLE_MS);
    const { rss, peak } = memoryMB(child.pid!);
    writeFileSync(`/proc/${child.pid}/clear_refs`, '5');
    const scrapes = [];
    for (let i = 0; i < SCRAPES; i++) scrapes.push(await scrape(metricsUrl));
    const scrapePeak = memoryMB(child.pid!).peak;
    await sleep(IDLE_MS);
    const scraped = memoryMB(child.pid!).rss;
    // a full relist after 410 Gone (every watch cut, the store compacted): the peak it costs the daemon
    writeFileSync(`/proc/${child.pid}/clear_refs`, '5');
    await ask(server, 'relist');
    await sleep(IDLE_MS); // the source relists in about 2 s (the table above): this covers it
    return {
      idle: rss, peak, scrapePeak, scraped, scrapeMs: median(scrapes.map((s) => s.ms)), edgeSeries: scrapes[0]!.edgeSeries,
      relistPeak: memoryMB(child.pid!).peak, syncS,
    };
  } finally {
    await stop(child);
  }
}

export async function kubeScaleBench(): Promise<Bench> {
  const { INTERVALS, WORKLOADS } = await import('./edge-load'); // not in the children: their RSS is measured
  return withApiServer(async (api) => {
    const { bareRss } = api;
    const runs: KubeRun[] = [];
    for (const v of VARIANTS) runs.push(await runSource(api, v));
    const f = (n: number, d = 1) => n.toFixed(d);
    const rows = runs.map((r) => [
      r.mode, f(r.firstPublishS, 2), `${r.ports.toLocaleString('en-US')} / ${r.endpoints.toLocaleString('en-US')}`, f(r.stallMs, 0),
      `${f(r.idleRss)} (+${f(r.idleRss - bareRss)})`, `${f(r.peakRss)} (+${f(r.peakRss - bareRss)})`, f(r.heapMB),
      `${f(r.relistS, 2)} s, peak ${f(r.relistPeakRss)}`, `${f(r.burstS, 2)} s, ${r.burstSeen}`,
    ]);
    const [plain, small] = runs as [KubeRun, KubeRun];
    const daemon = await runDaemon(api, false);
    const graph = await runDaemon(api, true);
    const share = (x: number) => `${f(x - bareRss)} MB (${f(x)} MB, bare node ${f(bareRss)} MB)`;
    return {
      title: `Kubernetes API: ${SERVICES.toLocaleString('en-US')} Services, 50,000 endpoints in EndpointSlices of ≤ 100, over HTTPS from the fake API server`,
      header: ['access', 'first complete publish (s)', 'ports / endpoints published', 'longest event-loop stall in the sync (ms)', 'idle RSS MB (above bare node)', 'peak RSS MB (above bare)', 'heap after GC MB', 'full relist after 410', `burst: ${BURST} slices change`],
      rows,
      floors: [
        { what: `KubeSource's idle RSS ≤ 60 MB above a bare node process (in-cluster, ${SMALL_YOUNG.join(' ')})`, ok: small.idleRss - bareRss <= 60, value: share(small.idleRss) },
        { what: 'the whole daemon (flapwatch run, in-cluster, every source on), synced and idle, ≤ 150 MB RSS', ok: daemon.idle <= 150, value: `${f(daemon.idle)} MB, synced in ${f(daemon.syncS, 1)} s` },
        { what: 'the whole daemon at its peak over start-up and the sync ≤ 150 MB', ok: daemon.peak <= 150, value: `${f(daemon.peak)} MB` },
        { what: 'the whole daemon at its peak over a full relist after 410 Gone ≤ 150 MB', ok: daemon.relistPeak <= 150, value: `${f(daemon.relistPeak)} MB` },
        {
          what: `the whole daemon with the service graph of ${WORKLOADS.toLocaleString('en-US')} client workloads at the default --label-cap (every edge series fed), synced and idle, ≤ 150 MB RSS`,
          ok: graph.idle <= 150, value: `${f(graph.idle)} MB, ${graph.edgeSeries.toLocaleString('en-US')} flapwatch_edge_* series`,
        },
        {
          what: `the same daemon at its peak over ${SCRAPES} scrapes of its /metrics ≤ 150 MB`,
          ok: graph.scrapePeak <= 150, value: `${f(graph.scrapePeak)} MB (a scrape answered in ${f(graph.scrapeMs, 0)} ms, median); ${f(graph.scraped)} MB once scraped`,
        },
        { what: 'the same daemon at its peak over start-up and the sync, and over a full relist, ≤ 150 MB', ok: Math.max(graph.peak, graph.relistPeak) <= 150, value: `${f(graph.peak)} MB, ${f(graph.relistPeak)} MB` },
      ],
      notes: [
        `without the service graph the daemon's /metrics answers in ${f(daemon.scrapeMs, 0)} ms, its RSS peaks at ${f(daemon.scrapePeak)} MB over ${SCRAPES} scrapes and stays at ${f(daemon.scraped)} MB`,
        `the service graph: ${WORKLOADS.toLocaleString('en-US')} client workloads each calling a Service of the ${SERVICES.toLocaleString('en-US')}, ${INTERVALS} intervals of their connects (a tenth with a retransmit and a drop) fed to the daemon's own edge metrics at start (bench/feed-edges.ts, node -r), before the sync; bench edges has the edge series alone`,
        `with node's default flags the source's share is ${share(plain.idleRss)}: the daemon runs with ${SMALL_YOUNG.join(' ')}`,
        `${SERVICES - BIG} Services with ${SMALL_ENDPOINTS} endpoints and ${BIG} with ${BIG_ENDPOINTS} (three slices each); every fourth Service has two ports; endpoints spread over ${NODES} nodes; ${NODE}'s 500 pods with probes, ${OTHER_PODS} pods elsewhere (the field selector leaves them on the server), 1,200 Unhealthy Events`,
        'kubeconfig loads @kubernetes/client-node for its credential plugins: that is its whole extra cost; a DaemonSet runs in-cluster and never loads it',
        `idle = ${IDLE_MS / 1000} s after the first publish (V8's memory reducer has run); heap includes the ServiceIndex's own maps; the bare node process loads nothing`,
        `${SMALL_YOUNG.join(' ')}: V8 otherwise grows the young generation to 2 × 16 MB during the sync and keeps it; the daemon should run with it (NODE_OPTIONS or its entry point)`,
        'full relist: the server compacts and cuts every watch, the source gets 410 and lists everything again; the peak is VmHWM reset just before',
        `burst: ${BURST} slices get their first endpoint's readiness flipped in one go; flips are the ones on ${NODE}`,
      ],
    };
  });
}

// ---- the children ----

async function serve(dir: string): Promise<void> {
  const { FakeApiServer } = await import('../test/kube/fake-apiserver');
  const { endpointSlice, pod, service, unhealthyEvent } = await import('../test/kube/objects');
  const { TOKEN } = await import('../test/kube/kubeconfig');
  const fake = await FakeApiServer.start({ tls: { cert: readFileSync(path.join(dir, 'tls.crt')), key: readFileSync(path.join(dir, 'tls.key')) }, token: TOKEN });
  const ip = (base: number, i: number) => `10.${base + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
  const sliceNames: [string, string, string][] = [];
  let e = 0;
  for (let s = 0; s < SERVICES; s++) {
    const ns = `ns-${s % 100}`;
    const name = `svc-${s}`;
    const ports = s % 4 === 0 ? [{ name: 'http', port: 80 }, { name: 'metrics', port: 9090 }] : [{ name: 'http', port: 80 }];
    fake.put('services', service(ns, name, { clusterIP: ip(96, s), ports }));
    const count = s < BIG ? BIG_ENDPOINTS : SMALL_ENDPOINTS;
    const targets = ports.map((p) => ({ name: p.name, port: p.port === 80 ? 8080 : p.port }));
    for (let first = 0, n = 0; first < count; first += 100, n++) {
      const eps = [];
      for (let j = first; j < Math.min(count, first + 100); j++, e++) {
        const node = `node-${e % NODES}`;
        eps.push({ ip: ip(128, e), node, pod: `${name}-${j}` });
        if (node === NODE) {
          fake.put('pods', pod(ns, `${name}-${j}`, NODE, ip(128, e), [{
            name: 'app', ports: [{ name: 'http', containerPort: 8080 }],
            readinessProbe: { httpGet: { path: '/ready', port: 'http' } }, livenessProbe: { tcpSocket: { port: 8080 } },
          }]));
        }
      }
      fake.put('endpointslices', endpointSlice(ns, name, `${name}-${n}`, targets, eps));
      sliceNames.push([ns, name, `${name}-${n}`]);
    }
  }
  for (let i = 0; i < OTHER_PODS; i++) fake.put('pods', pod('elsewhere', `p-${i}`, `node-${1 + (i % (NODES - 1))}`, ip(200, i)));
  const old = new Date(Date.now() - 1_800_000);
  for (let i = 0; i < 1_200; i++) {
    const local = i < 200;
    fake.put('events', unhealthyEvent(local ? 'ns-0' : 'elsewhere', `ev-${i}`, { pod: local ? `svc-${i * 100}-0` : `p-${i}`, host: local ? NODE : 'node-9', count: 3, last: old }));
  }
  process.on('message', (m: Msg) => {
    if (m.type === 'relist') {
      fake.store.bump();
      fake.store.compact();
      fake.cutWatches();
      process.send!({ type: 'relist', rv: String(fake.store.rv) });
    } else if (m.type === 'burst') {
      for (const [ns, , slice] of sliceNames.slice(0, BURST)) {
        const obj = fake.store.get('endpointslices', ns, slice)!;
        const first = (obj.endpoints as { conditions: { ready: boolean } }[])[0]!;
        first.conditions.ready = !first.conditions.ready; // each run flips them back
        fake.put('endpointslices', obj);
      }
    }
  });
  process.send!({ type: 'serving', port: fake.port, endpoints: e, slices: sliceNames.length });
  process.once('SIGTERM', () => void fake.close().then(() => process.exit(0)));
}

async function source(mode: string, port: string, dir: string): Promise<void> {
  const { KubeSource } = await import('../src/kube/source');
  const { ServiceIndex } = await import('../src/services/index');
  const { createLogger } = await import('../src/log');
  const index = new ServiceIndex();
  const delay = monitorEventLoopDelay({ resolution: 5 });
  let publishes = 0;
  let last: { ports: number; endpoints: number; notReady: number } | undefined;
  const publish = index.publish.bind(index);
  index.publish = (src, views) => {
    publishes++;
    let endpoints = 0;
    let notReady = 0;
    for (const v of views) for (const ep of v.endpoints) (endpoints++, ep.ready === false && notReady++);
    last = { ports: views.length, endpoints, notReady };
    publish(src, views);
  };
  const ks = new KubeSource({
    kubeconfig: mode === 'kubeconfig' ? path.join(dir, 'kubeconfig') : '',
    inCluster: { host: '127.0.0.1', port, dir: path.join(dir, 'serviceaccount') },
    nodeName: NODE,
    logger: createLogger('warn', 2),
  });
  ks.onServices((ports) => index.publish('kubernetes', ports));
  let flips = 0;
  ks.onReadiness((f) => (flips += f.length));
  const t0 = performance.now();
  delay.enable();
  await ks.start();
  delay.disable();
  if (!last) throw new Error(`no publish: ${JSON.stringify(ks.stats())}`);
  process.send!({ type: 'synced', ms: performance.now() - t0, ...last, stallMs: delay.max / 1e6 });
  await relisted(() => Object.values(ks.resourceVersions()));
  const burstFrom = publishes;
  const notReady = last.notReady;
  while (Math.abs(last.notReady - notReady) < BURST) await sleep(20);
  process.send!({ type: 'burst-seen', seen: `${publishes - burstFrom} publishes, ${flips} flips` });
  process.once('SIGTERM', () => void ks.stop().then(() => process.exit(0)));
}

/**
 * Answers the parent's heap asks, and returns once the relist it announces is done: every resource listed again at
 * the version after compaction.
 */
async function relisted(versions: () => string[]): Promise<void> {
  const rv = await new Promise<string>((resolve) => {
    process.on('message', (m: Msg) => {
      if (m.type === 'heap') {
        global.gc?.();
        process.send!({ type: 'heap', heapMB: process.memoryUsage().heapUsed / 1048576 });
      } else if (m.type === 'await-relist') resolve(m.rv as string);
    });
  });
  while (!versions().every((v) => v === rv)) await sleep(20);
  process.send!({ type: 'relisted' });
}

export const INFORMERS_WATCH = 'Services, EndpointSlices, the node\'s pods and Unhealthy Events, with KubeSource\'s field selectors, through ListWatch (makeInformer takes no field selector)';

/** The same four list+watches through @kubernetes/client-node's informers, as a user of the library writes them. */
async function informers(dir: string): Promise<void> {
  const k8s = await import('@kubernetes/client-node');
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(path.join(dir, 'kubeconfig'));
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const discovery = kc.makeApiClient(k8s.DiscoveryV1Api);
  const watch = new k8s.Watch(kc);
  const pods = `spec.nodeName=${NODE}`;
  const events = 'involvedObject.kind=Pod,reason=Unhealthy';
  const services = new k8s.ListWatch('/api/v1/services', watch, () => core.listServiceForAllNamespaces(), false);
  const slices = new k8s.ListWatch('/apis/discovery.k8s.io/v1/endpointslices', watch, () => discovery.listEndpointSliceForAllNamespaces(), false);
  const all = [
    services, slices,
    new k8s.ListWatch('/api/v1/pods', watch, () => core.listPodForAllNamespaces({ fieldSelector: pods }), false, undefined, pods),
    new k8s.ListWatch('/api/v1/events', watch, () => core.listEventForAllNamespaces({ fieldSelector: events }), false, undefined, events),
  ];
  for (const informer of all) informer.on('error', () => setTimeout(() => void informer.start(), DEFAULT_BACKOFF.initialMs));
  let updates = 0;
  slices.on('update', () => updates++);
  const delay = monitorEventLoopDelay({ resolution: 5 });
  const t0 = performance.now();
  delay.enable();
  await Promise.all(all.map((informer) => informer.start()));
  delay.disable();
  let ports = 0;
  let endpoints = 0;
  for (const s of services.list()) ports += s.spec?.ports?.length ?? 0;
  for (const s of slices.list()) endpoints += s.endpoints.length * (s.ports?.length ?? 1);
  process.send!({ type: 'synced', ms: performance.now() - t0, ports, endpoints, stallMs: delay.max / 1e6 });
  await relisted(() => all.map((informer) => informer.latestResourceVersion()));
  const burstFrom = updates;
  while (updates - burstFrom < BURST) await sleep(20);
  process.send!({ type: 'burst-seen', seen: `${updates - burstFrom} slice updates` });
  process.once('SIGTERM', () => void Promise.all(all.map((informer) => informer.stop())).then(() => process.exit(0)));
}

async function child([role, ...args]: string[]): Promise<void> {
  process.once('disconnect', () => process.exit(0)); // the parent died: never outlive it
  if (role === 'serve') return serve(args[0]!);
  if (role === 'source') return source(args[0]!, args[1]!, args[2]!);
  if (role === 'informers') return informers(args[2]!);
  if (role === 'bare') {
    process.send!({ type: 'ready' });
    setInterval(() => undefined, 60_000);
    process.once('SIGTERM', () => process.exit(0));
    return;
  }
  throw new Error(`unknown role ${role}`);
}

if (require.main === module) {
  child(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
