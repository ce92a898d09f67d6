// Issue 8's rule for hand-written code: it stays only where a measurement shows it matters to a user (≥ 10% of
// its path), otherwise the library a user would reach for does the job. Each piece against that library, on what
// it reads at scale: its own time in this process (on the bytes the tool printed, as they came), the whole read it
// is part of, and memory. Each whole read is measured in a fresh process with the daemon's node flags (`node
// handmade.js read PIECE NAME NETNS`): a heap that another variant grew first holds more garbage before V8 collects
// it, which the peak would count.
// The Kubernetes client runs against the fake API server in bench/kube-scale.ts's harness, each way of watching
// in a child of its own.
import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { JSONParser } from '@streamparser/json';
import { parser as jsonTokens } from 'stream-json';
import { createLogger } from '../src/log';
import { clusterOptions } from '../src/config';
import { KubeletProbeSource } from '../src/health/kubelet';
import { parsePromText } from '../src/health/prom-text';
import { run } from '../src/kubeproxy/command';
import { PARSE_DUMP, readNftTable, type Backend } from '../src/kubeproxy/dumps';
import { IptablesSaveParser, type RuleSink } from '../src/kubeproxy/iptables-save';
import { JsonElements } from '../src/kubeproxy/json-elements';
import { NftModelBuilder } from '../src/kubeproxy/nft-json';
import { FakeKubelet, type ProbeSeries } from '../test/health/fake-kubelet';
import { loadIptables, loadNft, withNetns } from '../test/kubeproxy/netns';
import { renderIptables } from '../test/kubeproxy/render';
import { renderNft } from '../test/kubeproxy/render-nft';
import { CLUSTER_CIDR, SERVICES, benchServices, collected, fullRead, measure, median, type Row, type Variant } from './kubeproxy-rules';
import { INFORMERS, INFORMERS_WATCH, IN_CLUSTER, KUBECONFIG, runSource, withApiServer } from './kube-scale';
import { DAEMON_NODE_FLAGS } from './proc';
import type { Bench } from './types';

// stream-json is ESM with subpath exports, which this CommonJS build's TypeScript cannot resolve: required by
// name, typed by what the bench calls
const { pick } = require('stream-json/filters/pick.js') as { pick: { asStream(o: { filter: string }): Duplex } };
const { streamArray } = require('stream-json/streamers/stream-array.js') as { streamArray: { asStream(): Duplex } };

interface PromFamily {
  name: string;
  metrics: { labels?: Record<string, string>; value?: string }[];
}
// no types of its own
const parsePrometheusTextFormat = require('parse-prometheus-text-format') as (text: string) => PromFamily[];

/** in-process timings: the median of ROUNDS runs, after as many warm-up runs (the daemon reads every interval) */
const ROUNDS = 7;
const SHARE = 0.1;
const PODS = 500;
const NFT_LIST = ['nft', '-j', 'list', 'table', 'ip', 'kube-proxy'];

async function timeIt(fn: () => unknown): Promise<number> {
  for (let i = 0; i < ROUNDS; i++) await fn();
  const ms: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
  }
  return median(ms);
}

/** A tool's stdout, in the chunks the pipe delivered. */
async function chunksOf(argv: string[], netns: string): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  const res = await run(argv, { netns, onData: (c) => chunks.push(c), timeoutMs: 300_000 });
  if (res.code !== 0) throw new Error(`${argv.join(' ')}: exit ${res.code}: ${res.stderr}`);
  return chunks;
}

const ms = (x: number) => `${x.toFixed(x < 10 ? 1 : 0)} ms`;
const pct = (part: number, whole: number) => `${((100 * part) / whole).toFixed(1)}%`;
const mb = (x: number) => `${x.toFixed(1)} MB`;
const size = (chunks: Buffer[]) => mb(chunks.reduce((n, c) => n + c.length, 0) / 2 ** 20);

interface Piece {
  rows: string[][];
  notes: string[];
}

// ---- 1. the iptables-save parser ----

class CountingSink implements RuleSink {
  rules = 0;

  rule(): void {
    this.rules++;
  }
}

/** One whole read, `npm run bench -- rules`'s way (median of 5 after 3 warm-up runs, the heap sampled), in a fresh process. */
function wholeRead(piece: 'iptables' | 'nft', name: string, netns: string): Promise<Row> {
  const child = fork(__filename, ['read', piece, name, netns], { execArgv: DAEMON_NODE_FLAGS, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('message', (row: Row) => resolve(row));
    child.once('exit', (code) => reject(new Error(`the ${piece} read "${name}" exited ${code} without a result`)));
  });
}

async function iptablesPiece(): Promise<Piece> {
  const rules = renderIptables(benchServices(), { clusterCIDR: CLUSTER_CIDR });
  return withNetns(async (netns) => {
    await loadIptables(netns, 'nft', rules);
    await loadIptables(netns, 'legacy', rules);
    const whole = { nft: await wholeRead('iptables', 'nft', netns), legacy: await wholeRead('iptables', 'legacy', netns) };
    const dump = await chunksOf(['iptables-nft-save', '-c'], netns);
    let sink = new CountingSink();
    const parseMs = await timeIt(() => {
      sink = new CountingSink();
      const parser = new IptablesSaveParser(sink, PARSE_DUMP);
      for (const c of dump) parser.write(c);
      parser.end();
    });
    const share = (r: Row) => parseMs / (r.seconds * 1000);
    const rows = (['nft', 'legacy'] as const).map((b) => [
      `iptables-save parser (iptables-save.ts, interner.ts, words.ts), ${b === 'nft' ? 'iptables-nft-save -c' : 'iptables-legacy, the tables from the kernel'}`,
      `${ms(parseMs)} for the ${size(dump)} dump (the parser alone); whole read ${whole[b].seconds.toFixed(2)} s`,
      'none maintained on npm (notes)',
      `${pct(parseMs, whole[b].seconds * 1000)} of the whole read`,
      `whole read: peak heap ${mb(whole[b].peakHeapMB!)}, the model keeps ${mb(whole[b].retainedHeapMB!)}`,
    ]);
    return {
      rows,
      notes: [
        `iptables-save parser: ${sink.rules.toLocaleString('en')} rules parsed per dump (${SERVICES.toLocaleString('en')} Services × 2 endpoints; KUBE-MARK-MASQ rules skipped unparsed, as the daemon does); its share is its time on the dump in this process over the whole read of \`npm run bench -- rules\`'s kind (the child or the kernel, the parser, the model)`,
        'iptables-save parser on npm: @wkronmiller/iptables-parser 0.0.31 is the only one (its repository\'s last commit 2020-05): it splits the whole text and runs 16 regular expressions per rule, takes a rule only from a line that starts with `-A` (every line of `iptables-save -c` starts with its counters, `[p:b] -A …`), has no field for counters, `--probability`, `--mark` or negation, and does not stream; the others (`iptables`, `netfilter`) run iptables commands and parse nothing',
        `verdict, iptables-save parser: kept, because no maintained library reads \`iptables-save -c\`; it is ${pct(parseMs, whole.nft.seconds * 1000)} of the nft read and ${pct(parseMs, whole.legacy.seconds * 1000)} of the legacy one${Math.max(share(whole.nft), share(whole.legacy)) >= SHARE ? '' : `, under ${SHARE * 100}% of both: its speed is not what keeps it`}`,
      ],
    };
  });
}

// ---- 2. the nft -j listing, element by element ----

type Element = Record<string, unknown>;
interface ElementReader {
  write(chunk: Buffer): void;
  end(): void | Promise<void>;
}

const readers: Record<string, (onElement: (el: Element) => void) => ElementReader> = {
  'JsonElements (ours)': (on) => {
    const elements = new JsonElements(on);
    return { write: (c) => elements.write(c), end: () => void elements.end() };
  },
  'one JSON.parse of the whole text': (on) => {
    const chunks: Buffer[] = [];
    return {
      write: (c) => chunks.push(c),
      end: () => {
        for (const el of (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { nftables: Element[] }).nftables) on(el);
      },
    };
  },
  '@streamparser/json': (on) => {
    const parser = new JSONParser({ paths: ['$.nftables.*'], keepStack: false });
    parser.onValue = ({ value }) => on(value as Element);
    return {
      write: (c) => parser.write(c),
      end: () => {
        if (!parser.isEnded) parser.end(); // it ends by itself at the end of the top-level value
      },
    };
  },
  'stream-json (parser, pick, streamArray)': (on) => {
    const tokens = jsonTokens.asStream();
    const elements = tokens.pipe(pick.asStream({ filter: 'nftables' })).pipe(streamArray.asStream());
    elements.on('data', ({ value }: { value: Element }) => on(value));
    const done = new Promise<void>((resolve, reject) => {
      elements.once('end', resolve).once('error', reject);
      tokens.once('error', reject);
    });
    return {
      write: (c) => void tokens.write(c),
      end: () => {
        tokens.end();
        return done;
      },
    };
  },
};
const OURS = 'JsonElements (ours)';
// its whole read takes a minute per round here: timed in this process only
const IN_PROCESS_ONLY = 'stream-json (parser, pick, streamArray)';
const NFT_ALONE = '`nft -j list` alone';

/** A whole read of the nftables-mode listing into the model, with one of the readers (or none). */
function nftRead(name: string, netns: string): Variant {
  if (name === NFT_ALONE) return { what: name, once: (spawn) => run(['sh', '-c', `exec ${NFT_LIST.join(' ')} > /dev/null`], { netns, spawn }) };
  return {
    what: name, heap: true,
    once: async (spawn) => {
      const builder = new NftModelBuilder();
      if (name === OURS) await readNftTable('ipv4', builder, { netns, spawn }); // the daemon's own read
      else {
        const reader = readers[name]!((el) => builder.element(el));
        const res = await run(NFT_LIST, { netns, spawn, onData: (c) => reader.write(c) });
        if (res.code !== 0) throw new Error(`${NFT_LIST.join(' ')}: exit ${res.code}`);
        await reader.end();
      }
      const m = builder.finish();
      if (m.services.size !== SERVICES) throw new Error(`read ${m.services.size} Services, not ${SERVICES}`);
      return m;
    },
  };
}

async function nftJsonPiece(): Promise<Piece> {
  return withNetns(async (netns) => {
    await loadNft(netns, renderNft(benchServices(), { clusterCIDR: CLUSTER_CIDR }));
    const read: Record<string, Row> = {};
    for (const name of [NFT_ALONE, ...Object.keys(readers).filter((n) => n !== IN_PROCESS_ONLY)]) read[name] = await wholeRead('nft', name, netns);
    const listing = await chunksOf(NFT_LIST, netns);
    const parseMs: Record<string, number> = {};
    let elements = 0;
    for (const [name, make] of Object.entries(readers)) {
      parseMs[name] = await timeIt(async () => {
        let n = 0;
        const reader = make(() => n++);
        for (const c of listing) reader.write(c);
        await reader.end();
        if (elements && n !== elements) throw new Error(`${name} read ${n} elements, not ${elements}`);
        elements = n;
      });
    }
    const ours = read[OURS]!;
    const alone = read[NFT_ALONE]!;
    const heap = (r?: Row) => (r ? `peak heap ${mb(r.peakHeapMB!)}, RSS +${mb(r.peakRssMB!)}` : 'not measured');
    const wholeS = (r?: Row) => (r ? `; whole read ${r.seconds.toFixed(2)} s` : '');
    const rows = Object.keys(readers).filter((n) => n !== OURS).map((n) => [
      `\`nft -j list table ip kube-proxy\` element by element (json-elements.ts)`,
      `${ms(parseMs[OURS]!)} for the ${size(listing)} listing (the splitter and JSON.parse of each element)${wholeS(ours)}`,
      `${n}: ${ms(parseMs[n]!)}${wholeS(read[n])}`,
      `ours: ${pct(parseMs[OURS]!, ours.seconds * 1000)} of its whole read; ${n}: ${read[n] ? pct(parseMs[n]!, read[n]!.seconds * 1000) : `${pct(parseMs[n]!, ours.seconds * 1000 - parseMs[OURS]! + parseMs[n]!)} of ours with its parse time instead`}`,
      `whole read, ours: ${heap(ours)}; ${n}: ${heap(read[n])}`,
    ]);
    // the in-process times are steadier than whole reads run one after another: a library's extra parse time over
    // our whole read is its share of the path
    const extra = (n: string) => (parseMs[n]! - parseMs[OURS]!) / (ours.seconds * 1000);
    const asGood = (n: string) => extra(n) < SHARE && read[n]!.peakHeapMB! <= (1 + SHARE) * ours.peakHeapMB!;
    const JSON_PARSE = 'one JSON.parse of the whole text';
    const LIB = '@streamparser/json';
    return {
      rows,
      notes: [
        `nft listing: ${SERVICES.toLocaleString('en')} Services × 2 endpoints in kube-proxy's nftables mode (test/kubeproxy/render-nft.ts), ${elements.toLocaleString('en')} elements in ${size(listing)}; \`nft -j list\` alone (to /dev/null) takes ${alone.seconds.toFixed(2)} s of every whole read; the whole reads build the same model (NftModelBuilder) from the elements, median of 5 after 3 warm-up runs; the in-process times count the elements and build nothing`,
        'nft listing\'s libraries: @streamparser/json 0.0.26 and stream-json 3.9.0 are both maintained (stream-json: 3.x releases through 2026; @streamparser/json: four releases after 0.0.22 of 2025-01); the first takes chunks synchronously (`write`), as the pipe hands them over, the second is a chain of Node streams',
        `verdict, nft listing: ${asGood(JSON_PARSE) ? 'one JSON.parse of the whole text does as well: switch' : asGood(LIB) ? `${LIB} does as well: switch` : `kept, for its memory: one JSON.parse of the whole text parses in ${pct(parseMs[JSON_PARSE]!, parseMs[OURS]!)} of our time, but its whole read peaks at ${mb(read[JSON_PARSE]!.peakHeapMB!)} of heap against ours ${mb(ours.peakHeapMB!)}; ${LIB} peaks at ${mb(read[LIB]!.peakHeapMB!)} and its extra parse time is ${pct(parseMs[LIB]! - parseMs[OURS]!, ours.seconds * 1000)} of our whole read (stream-json's ${pct(parseMs[IN_PROCESS_ONLY]! - parseMs[OURS]!, ours.seconds * 1000)}); ours is ${pct(parseMs[OURS]!, ours.seconds * 1000)} of its read, so time alone would not keep it`}`,
      ],
    };
  });
}

// ---- 3. the Prometheus text reader of kubelet's /metrics/probes ----

const TYPES = ['Readiness', 'Liveness', 'Startup'] as const;
const RESULTS = ['successful', 'failed', 'unknown'] as const;
const METRIC = 'prober_probe_total';

async function promTextPiece(): Promise<Piece> {
  const kubelet = await FakeKubelet.start();
  try {
    for (let i = 0; i < PODS; i++) {
      for (const probe_type of TYPES) {
        for (const result of RESULTS) kubelet.set({ namespace: `ns-${i % 50}`, pod: `web-${i}`, container: 'app', probe_type, result, pod_uid: `uid-${i}` }, i);
      }
    }
    // a label value with every escape the format has: a quote, a backslash, a newline
    const odd: ProbeSeries = { namespace: 'odd', pod: 'a"b\\c\nd', container: 'app', probe_type: 'Readiness', result: 'failed', pod_uid: 'uid-odd' };
    kubelet.set(odd, 1);
    const text = kubelet.exposition();
    const series = PODS * TYPES.length * RESULTS.length + 1;
    const ours = () => parsePromText(text, (name) => name === METRIC).samples;
    const library = () => parsePrometheusTextFormat(text).find((f) => f.name === METRIC)?.metrics ?? [];
    const right = (found: { labels?: Record<string, string> }[]) =>
      found.length === series && found.some((s) => s.labels?.namespace === 'odd' && s.labels.pod === odd.pod);
    const oursMs = await timeIt(ours);
    const libraryMs = await timeIt(library);
    const kept = async (read: () => unknown[]) => {
      const base = await collected();
      const result = read();
      const held = (await collected()) - base;
      if (result.length !== series) throw new Error(`read ${result.length} series, not ${series}`); // and holds it to here
      return held / 2 ** 20;
    };
    const [oursKept, libraryKept] = [await kept(ours), await kept(library)];
    const intervalMs = clusterOptions['kubelet-interval'].default * 1000;
    const token = path.join(kubelet.dir, 'token');
    writeFileSync(token, kubelet.token);
    const source = new KubeletProbeSource({ url: kubelet.url, tokenFile: token, caFile: kubelet.caFile, intervalMs, logger: createLogger('warn', 2) });
    await source.start();
    const pollMs = await timeIt(() => source.read());
    await source.stop();
    if (source.malformedLines()) throw new Error(`the daemon's read found ${source.malformedLines()} unreadable lines`);
    const libraryPollMs = pollMs - oursMs + libraryMs;
    const asGood = right(library()) && libraryMs - oursMs <= SHARE * pollMs;
    return {
      rows: [[
        `kubelet's /metrics/probes reader (prom-text.ts)`,
        `${ms(oursMs)} per read of ${mb(Buffer.byteLength(text) / 2 ** 20)}; escaped label values ${right(ours()) ? 'right' : 'WRONG'}`,
        `parse-prometheus-text-format 1.1.1: ${ms(libraryMs)}; escaped label values ${right(library()) ? 'right' : 'WRONG'}`,
        `ours: ${pct(oursMs, pollMs)} of a whole poll (${ms(pollMs)}: HTTPS GET, read, counter deltas), ${pct(oursMs, intervalMs)} of the ${intervalMs / 1000} s interval; the library: ${pct(libraryMs, libraryPollMs)} of the same poll`,
        `the result keeps ${mb(oursKept)} (ours: ${METRIC} only) vs ${mb(libraryKept)} (every family)`,
      ]],
      notes: [
        `/metrics/probes: ${PODS} pods × ${TYPES.length} probe types × ${RESULTS.length} results of ${METRIC}, plus the duration histogram, as test/health/fake-kubelet.ts writes them (${text.split('\n').length.toLocaleString('en')} lines), and one series whose pod label holds a quote, a backslash and a newline; the poll is KubeletProbeSource's, against that fake kubelet over HTTPS on loopback; ours skips other metrics before reading their labels, the library reads every family`,
        'Prometheus text on npm: parse-prometheus-text-format (about 240,000 downloads a month) is the one in use; its repository\'s last release is 1.1.x of 2019 and its last commit 2020-04 (a dependency bump); prom2javascript (2021, 4 commits) and exposition are smaller and older; prom-client writes the format but does not read it',
        `verdict, /metrics/probes reader: ${asGood ? `the library does as well (${ms(libraryMs - oursMs)} more per poll, under ${SHARE * 100}% of it; escapes right), but it is not well kept (no release since 2019): the lead decides` : `kept: the library costs ${ms(libraryMs - oursMs)} more per poll (${pct(libraryMs - oursMs, pollMs)} of it)${right(library()) ? '' : ' and reads the escaped label wrong'}, and has had no release since 2019`}`,
      ],
    };
  } finally {
    await kubelet.close();
  }
}

// ---- 4. the Kubernetes list+watch client ----

/** the whole daemon's RSS budget (bench/kube-scale.ts's floors): what a heavier client would eat into */
const DAEMON_BUDGET_MB = 150;

async function kubeClientPiece(): Promise<Piece> {
  return withApiServer(async (api) => {
    const inCluster = await runSource(api, IN_CLUSTER);
    const kubeconfig = await runSource(api, KUBECONFIG);
    const informers = await runSource(api, INFORMERS);
    if (informers.ports !== kubeconfig.ports || informers.endpoints !== kubeconfig.endpoints) {
      throw new Error(`the informers hold ${informers.ports} ports / ${informers.endpoints} endpoints, ours published ${kubeconfig.ports} / ${kubeconfig.endpoints}`);
    }
    const s = (x: number) => `${x.toFixed(2)} s`;
    const rss = (x: number) => `${mb(x)} (+${mb(x - api.bareRss)})`;
    const moreIdle = informers.idleRss - kubeconfig.idleRss;
    const morePeak = informers.peakRss - kubeconfig.peakRss;
    const asGood = informers.idleRss <= (1 + SHARE) * kubeconfig.idleRss && informers.peakRss <= (1 + SHARE) * kubeconfig.peakRss && informers.stallMs <= (1 + SHARE) * kubeconfig.stallMs;
    return {
      rows: [[
        'Kubernetes list+watch client (src/kube/http.ts, wire.ts, reflector.ts) in KubeSource',
        `first complete publish ${s(inCluster.firstPublishS)} in-cluster, ${s(kubeconfig.firstPublishS)} through the kubeconfig; longest event-loop stall ${ms(inCluster.stallMs)} / ${ms(kubeconfig.stallMs)}; relist after 410 ${s(inCluster.relistS)} / ${s(kubeconfig.relistS)}`,
        `@kubernetes/client-node's informers: synced (held, nothing published) in ${s(informers.firstPublishS)}; longest stall ${ms(informers.stallMs)}; relist after 410 ${s(informers.relistS)}`,
        `the informers' extra idle RSS over ours through the same kubeconfig, ${mb(moreIdle)}, is ${pct(moreIdle, DAEMON_BUDGET_MB)} of the daemon's ${DAEMON_BUDGET_MB} MB; over ours in-cluster (no library loaded), ${mb(informers.idleRss - inCluster.idleRss)}: ${pct(informers.idleRss - inCluster.idleRss, DAEMON_BUDGET_MB)}`,
        `idle RSS MB (above bare node): ours ${rss(inCluster.idleRss)} in-cluster, ${rss(kubeconfig.idleRss)} kubeconfig; informers ${rss(informers.idleRss)}; peak over the sync ${mb(inCluster.peakRss)} / ${mb(kubeconfig.peakRss)} vs ${mb(informers.peakRss)}; over a relist ${mb(inCluster.relistPeakRss)} / ${mb(kubeconfig.relistPeakRss)} vs ${mb(informers.relistPeakRss)}`,
      ]],
      notes: [
        `Kubernetes: \`npm run bench -- kube\`'s objects (10,000 Services, 50,000 endpoints in EndpointSlices of ≤ 100, the node's 500 pods, 1,200 Unhealthy Events) from the fake API server over HTTPS; each way in a child with the daemon's ${DAEMON_NODE_FLAGS.join(' ')}; idle = 15 s after the sync; a bare node process idles at ${mb(api.bareRss)}`,
        `informers: ${INFORMERS_WATCH}; each lists everything in one request (ListWatch does not page: ours asks pages of 100) and keeps whole objects, publishing nothing, so their sync time leaves out the index ours builds`,
        `verdict, Kubernetes client: ${asGood ? 'the informers do as well in memory and stalls: switch' : `kept: with the library loaded either way, the informers hold ${mb(moreIdle)} more RSS idle (${pct(moreIdle, kubeconfig.idleRss)} more), peak ${mb(morePeak)} higher over the sync and ${mb(informers.relistPeakRss - kubeconfig.relistPeakRss)} higher over a relist, and stall the event loop for ${ms(informers.stallMs)} against ${ms(kubeconfig.stallMs)} (the active probes and the drop tracer share that loop: a stall shows as a slow health check); a DaemonSet runs ours in-cluster and never loads the library`}`,
      ],
    };
  });
}

export async function handmadeBench(): Promise<Bench> {
  if (process.getuid?.() !== 0) throw new Error('the hand-made pieces benchmark needs root (ip netns add)');
  const pieces = [await iptablesPiece(), await nftJsonPiece(), await promTextPiece(), await kubeClientPiece()];
  return {
    title: 'Hand-written pieces against the libraries a user would reach for',
    header: ['piece', 'ours', 'library / alternative', 'share of its path', 'memory'],
    rows: pieces.flatMap((p) => p.rows),
    floors: [],
    notes: [
      ...pieces.flatMap((p) => p.notes),
      `in-process times: median of ${ROUNDS} runs after ${ROUNDS} warm-up ones; whole reads: median of 5 after 3 warm-up runs, the heap sampled every 2 ms above a collected baseline (as \`npm run bench -- rules\`), each read in a fresh process with the daemon's ${DAEMON_NODE_FLAGS.join(' ')} (the rules bench runs without): one variant after another, so load from other work falls on them unevenly`,
      `load average at the end: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`,
    ],
  };
}

async function child(piece: string, name: string, netns: string): Promise<void> {
  const variant = piece === 'iptables' ? fullRead(name, name as Backend, netns, name === 'legacy' ? 'kernel' : undefined) : nftRead(name, netns);
  const [[row]] = await measure(piece === 'iptables' ? (name as Backend) : 'nft', [variant]);
  process.send!(row, () => process.exit(0));
}

if (require.main === module && process.argv[2] === 'read') {
  child(process.argv[3]!, process.argv[4]!, process.argv[5]!).catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
