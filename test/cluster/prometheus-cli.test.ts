// For real: Debian's Prometheus scrapes three "nodes" (small HTTP servers serving fixed flapwatch metrics with
// five minutes of history, each with its instance) and evaluates the shipped rules; the recording rules, `flapwatch graph` and `flapwatch rca`
// (the built CLI, as an operator runs it) answer from its real PromQL. Then the CLI's errors: Prometheus down, a
// URL that is not Prometheus, a query it refuses, one that takes too long, a bad flag.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PrometheusClient } from '../../src/cluster/prometheus';
import { eventually, freePort } from '../helpers/env';
import { CLI } from '../deploy/daemon-process';
import { DEPLOY } from '../deploy/manifests';
import { RECORDED } from '../deploy/metrics';
import { Prometheus } from '../deploy/prometheus';
import { RULES_FILE } from '../deploy/rules';
import { prometheusSkip } from '../deploy/tools';
import { metricsServer, type MetricsServer } from './metrics-server';
import { SHOP_NODES } from './shop-nodes';

interface Ran { code: number; stdout: string; stderr: string }

function flapwatch(...args: string[]): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

const near = (actual: number | undefined, expected: number, tolerance: number, what: string) =>
  assert.ok(actual !== undefined && Math.abs(actual - expected) <= tolerance * expected, `${what}: ${actual}, expected ${expected} ± ${tolerance * 100}%`);

// A duration as `flapwatch graph` prints it ("704 µs", "3.9 ms"), back in seconds.
const seconds = (printed: string) => {
  const [, n, unit] = /^([\d.]+) (µs|ms|s)$/.exec(printed)!;
  return Number(n) * { µs: 1e-6, ms: 1e-3, s: 1 }[unit as 'µs' | 'ms' | 's'];
};

// The quantiles interpolate within buckets whose rates Prometheus extrapolates from each series' own scrapes, so on
// a loaded machine (late scrapes) they move by a few percent over a 1m window, as the failed share does.
const printedQuantilesNear = (p50: string, p90: string) => {
  near(seconds(p50), 0.000704, 0.1, 'p50');
  near(seconds(p90), 0.0039424, 0.1, 'p90');
};

describe('the recording rules, flapwatch graph and flapwatch rca against a real Prometheus scraping three nodes', { skip: prometheusSkip }, () => {
  let dir: string;
  let nodes: MetricsServer[] = [];
  let prometheus: Prometheus;
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'flapwatch-graph-'));
    nodes = await Promise.all(Object.values(SHOP_NODES).map((series) => metricsServer(series)));
    prometheus = await Prometheus.start({
      dir,
      targets: Object.keys(SHOP_NODES).map((instance, i) => ({ target: nodes[i]!.target, labels: { instance } })),
      ruleFiles: [RULES_FILE],
    });
    // every node's replayed five minutes in, then an evaluation of the rules over them
    await eventually(async () => (await prometheus.query('count(timestamp(flapwatch_source_up) > time() - 5)')) === 3, 'the nodes\' history to catch up', 30_000);
    const caughtUp = Date.now() / 1000;
    await eventually(async () => ((await prometheus.query('min(timestamp(edge:flapwatch_edge_connections:rate5m))')) ?? 0) > caughtUp + 1, 'the rules to run over it', 30_000);
  });
  after(async () => {
    await prometheus?.stop();
    await Promise.all(nodes.map((n) => n.close()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('every recorded series has exactly the labels of the contract, and no instance', async () => {
    for (const m of RECORDED) {
      const series = await prometheus.vector(m.name);
      assert.ok(series.length > 0, `${m.name} is recorded`);
      for (const s of series) assert.deepEqual(Object.keys(s.metric).filter((l) => l !== '__name__').sort(), [...m.labels].sort(), m.name);
    }
  });

  // A rate over the replayed history is within a few percent of the series' slope (where its window starts
  // between two replayed samples, Prometheus extrapolates only part of the way); every series of the three nodes
  // shares that error, so ratios between them are exact.
  test('the edges summed across nodes: api → db counted on node-a and node-b', async () => {
    const edge = (client: string, service: string, extra = '') => `{client_workload="${client}",service="${service}"${extra}}`;
    const q = async (expr: string) => prometheus.query(expr);
    const attempted = await q(`edge:flapwatch_edge_connections:rate5m${edge('api', 'db', ',result="attempted"')}`);
    near(attempted, 3, 0.12, 'api → db connects/s');
    // node-a's 1/s and node-b's 2/s against node-c's frontend → api 2/s
    near(await q(`edge:flapwatch_edge_connections:rate5m${edge('api', 'db', ',result="attempted"')} / ignoring (client_workload, service, port) edge:flapwatch_edge_connections:rate5m${edge('frontend', 'api', ',result="attempted"')}`), 1.5, 0.01, 'api → db against frontend → api');
    near(await q(`edge:flapwatch_edge_connect_failures:ratio_rate5m${edge('api', 'db')}`), 0.25 / 3, 0.01, 'the share of failed connects');
    assert.equal(await q(`edge:flapwatch_edge_connect_failures:ratio_rate5m${edge('frontend', 'api')}`), 0, 'an edge whose connects never failed has a ratio of 0');
    near((await q(`edge:flapwatch_edge_drops:rate5m${edge('api', 'db', ',mechanism="netfilter-drop"')}`))! / attempted!, 0.5 / 3, 0.01, 'drops per connect');
    near((await q(`edge:flapwatch_edge_retransmits:rate5m${edge('api', 'db')}`))! / attempted!, 0.5 / 3, 0.01, 'retransmits per connect');
    // the quantiles of the summed buckets: p50 in the first (≤ 1 ms), p90 between 1 and 4 ms, p99 between 1 and 4 s
    // (the nodes' buckets are scraped at different moments: a loaded machine's late scrape moves them a little)
    near(await q(`edge:flapwatch_edge_connect_seconds:quantile_rate5m${edge('api', 'db', ',quantile="0.5"')}`), 0.000704, 0.03, 'p50');
    near(await q(`edge:flapwatch_edge_connect_seconds:quantile_rate5m${edge('api', 'db', ',quantile="0.9"')}`), 0.0039424, 0.03, 'p90');
    near(await q(`edge:flapwatch_edge_connect_seconds:quantile_rate5m${edge('api', 'db', ',quantile="0.99"')}`), 3.84827392, 0.03, 'p99');
    // api fails on node-a and node-b, 0.25/s each, every failure naming db; db 0.1/s on node-b
    near(await q('sum(service:flapwatch_health_failures:rate5m{service="api"}) / sum(service:flapwatch_health_failures:rate5m{service="db"})'), 5, 0.01, 'api failures against db\'s');
    near(await q('sum(service:flapwatch_failure_dependencies:rate5m{service="api",dependency="db"}) / sum(service:flapwatch_health_failures:rate5m{service="api"})'), 1, 0.01, 'api\'s failures naming db');
    assert.equal(await q('count(workload:flapwatch_workload_services:max{workload="api"})'), 1, 'api on two nodes is one workload');
  });

  test("the dashboard's Node Graph: its queries make an edges frame and a nodes frame whose ids match", async () => {
    const dashboard = JSON.parse(readFileSync(path.join(DEPLOY, 'grafana', 'flapwatch-dashboard.json'), 'utf8')) as { panels: { type: string; targets?: { refId: string; expr: string }[] }[] };
    const targets = dashboard.panels.find((p) => p.type === 'nodeGraph')!.targets!;
    const frames: Record<string, Map<string, { labels: Record<string, string>; value: number }>> = {};
    for (const t of targets) {
      const rows = await prometheus.vector(t.expr);
      assert.ok(rows.length > 0, t.refId);
      // what Grafana's merge joins on: the labels, the same in both queries of a frame
      frames[t.refId] = new Map(rows.map((r) => [r.metric.id!, { labels: r.metric, value: r.value }]));
      const want = t.refId.startsWith('edges') ? ['id', 'source', 'target'] : ['id', 'subtitle', 'title'];
      for (const r of rows) assert.deepEqual(Object.keys(r.metric).sort(), want, `${t.refId}: ${JSON.stringify(r.metric)}`);
    }
    const { edges, edges_failed: edgesFailed, nodes, nodes_failed: nodesFailed } = frames as Record<string, Map<string, { labels: Record<string, string>; value: number }>>;
    for (const e of edges!.values()) assert.ok(nodes!.has(e.labels.source!) && nodes!.has(e.labels.target!), `${e.labels.id}: both ends are nodes`);
    const apiDb = edges!.get('shop/Deployment/api → shop/db')!;
    near(apiDb.value, 3, 0.12, 'api → db connects/s');
    near(edgesFailed!.get('shop/Deployment/api → shop/db')!.value, 100 / 12, 0.01, 'api → db % failed');
    assert.equal(edgesFailed!.get('shop/Deployment/frontend → shop/api')!.value, 0);
    near(edges!.get('shop/db → shop/StatefulSet/db')!.value / apiDb.value, 1, 0.01, 'db → its workload: what comes into db');
    assert.equal(edges!.get('shop/frontend → shop/Deployment/frontend')!.value, 0, 'nothing calls frontend');
    assert.deepEqual(nodes!.get('shop/db')!.labels, { id: 'shop/db', title: 'shop/db', subtitle: 'Service' });
    assert.deepEqual(nodes!.get('shop/StatefulSet/db')!.labels, { id: 'shop/StatefulSet/db', title: 'shop/db', subtitle: 'StatefulSet' });
    near(nodes!.get('shop/Deployment/api')!.value / apiDb.value, 7 / 3, 0.01, 'api\'s connects out, to db and cache');
    near(nodesFailed!.get('shop/Deployment/api')!.value, 100 * 0.25 / 7, 0.01, 'api\'s % failed');
    near(nodesFailed!.get('shop/db')!.value, 100 / 12, 0.01, 'db\'s % failed, coming in');
    assert.equal(nodes!.size, 8, [...nodes!.keys()].join(', '));
  });

  test('flapwatch graph --format json: the edges worst first, with drops, retransmits and connect quantiles', async () => {
    const r = await flapwatch('graph', '--prometheus', prometheus.url, '--since', '1m', '--format', 'json');
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { nodes: number; window: string; edges: { client: { name: string }; service: { name: string }; port: string; attempted: number; failed: number; failedShare: number; drops: Record<string, number>; retransmits: number; connectP50?: number; connectP90?: number }[]; backs: unknown[] };
    assert.equal(out.nodes, 3);
    assert.equal(out.window, '1m');
    assert.deepEqual(out.edges.map((e) => `${e.client.name}→${e.service.name}:${e.port}`), ['api→db:pg', 'frontend→cache:redis', 'api→cache:redis', 'frontend→api:http']);
    const [db, cache] = out.edges;
    near(db!.attempted, 180, 0.05, 'api → db connects in the minute');
    near(db!.failedShare, 0.25 / 3, 0.01, 'the share of api → db connects that failed');
    near(db!.drops['netfilter-drop']! / db!.attempted, 0.5 / 3, 0.01, 'drops per connect');
    near(db!.retransmits / db!.attempted, 0.5 / 3, 0.01, 'retransmits per connect');
    near(db!.connectP50, 0.000704, 0.1, 'p50');
    near(db!.connectP90, 0.0039424, 0.1, 'p90');
    assert.ok(cache!.retransmits > 0 && cache!.failed === 0 && cache!.connectP50 === undefined, JSON.stringify(cache));
    assert.deepEqual(out.backs.length, 4, 'api on two nodes backs api once');
  });

  test('flapwatch graph as a table, as dot, and for a namespace with no edges', async () => {
    const table = await flapwatch('graph', '--prometheus', prometheus.url, '--since', '1m');
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^Service graph, the 1m before \S+, from 3 nodes, worst edges first:$/);
    assert.match(lines[1]!, /^FAILED%\s+FAILED\s+CONNECTS\s+RETRANSMITS\s+P50\s+P90\s+CLIENT\s+SERVICE\s+DROPS$/);
    // 1 connect in 12 fails; Prometheus extrapolates each counter's increase to the window's edges from its own
    // scrapes, so a loaded machine's late scrapes move the share a little
    const row = /^\s+(\d+\.\d)%\s+\d+\s+\d+\s+\d+\s+(\S+ µs)\s+(\S+ ms)\s+shop\/Deployment\/api\s+shop\/db:pg\s+\d+ netfilter-drop$/.exec(lines[2]!);
    assert.ok(row, lines[2]);
    near(Number(row[1]), 8.3, 0.15, 'the failed share of api → db');
    printedQuantilesNear(row[2]!, row[3]!);
    assert.equal(lines.length, 6);
    const dot = await flapwatch('graph', '--prometheus', prometheus.url, '--since', '1m', '--format', 'dot');
    assert.equal(dot.code, 0, dot.stderr);
    assert.match(dot.stdout, /^digraph flapwatch \{\n/);
    const edge = /"wl:shop\/Deployment\/api" -> "svc:shop\/db" \[label="pg: \d+ connects, (\d+\.\d)% failed\\ndropped \d+ netfilter-drop\\n\d+ retransmits\\nconnect p50 (\S+ µs), p90 (\S+ ms)", color=red, fontcolor=red\];/.exec(dot.stdout);
    assert.ok(edge, dot.stdout);
    near(Number(edge[1]), 8.3, 0.15, 'the failed share of api → db in dot');
    printedQuantilesNear(edge[2]!, edge[3]!);
    assert.match(dot.stdout, /"svc:shop\/db" -> "wl:shop\/StatefulSet\/db" \[style=dashed, arrowhead=none\];/);
    const none = await flapwatch('graph', '--prometheus', prometheus.url, '--namespace', 'billing');
    assert.equal(none.code, 0, none.stderr);
    assert.match(none.stdout, /^Service graph from or to namespace billing, the 15m before \S+, from 3 nodes: no edges\.\n$/);
  });

  test('flapwatch rca --json: db is the root, on its own listen overflows on node-b, named by api; cache is noise', async () => {
    const r = await flapwatch('rca', '--prometheus', prometheus.url, '--window', '1m', '--json');
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as {
      failing: string[]; belowFloor: { service: string }[];
      candidates: { service: string; score: number; own: { verdict: string; nodes: string[] }[]; namedBy: { service: string }[]; firstFailing?: number }[];
    };
    assert.deepEqual(out.failing, ['shop/api', 'shop/db', 'shop/frontend']);
    assert.deepEqual(out.belowFloor.map((b) => b.service), ['shop/cache']);
    assert.deepEqual(out.candidates.map((c) => [c.service, c.score]), [['shop/db', 1], ['shop/api', 0.4], ['shop/frontend', 0]]);
    const db = out.candidates[0]!;
    assert.deepEqual(db.own.map((v) => [v.verdict, v.nodes]), [['listen-overflow', ['node-b']]]);
    assert.deepEqual(db.namedBy.map((n) => n.service), ['shop/api']);
    assert.ok(db.firstFailing !== undefined && db.firstFailing <= Date.now(), `first seen failing ${db.firstFailing}`);
  });

  test('flapwatch rca as text, and at a time before anything failed', async () => {
    const r = await flapwatch('rca', '--prometheus', prometheus.url, '--window', '1m');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Root-cause candidates, \S+ \S+ UTC and the 1m before, from 3 nodes:\n3 failing: shop\/api, shop\/db, shop\/frontend\ntoo few failures to count: shop\/cache \d+\n\n/);
    const db = r.stdout.split('\n').slice(4, 10).join('\n');
    assert.match(db, /^ 1\. shop\/db  score 1\.00\n {6}own 1\.00 \(its failures that named no dependency\) · independent 1\.00 \(calls no candidate\) · reach 1\.00 \(from shop\/api, shop\/frontend\) · pointed 1\.00 \(1 of 1 failing caller named it\)\n/);
    assert.match(db, /\n {6}\d+ failures; naming no dependency: \d+ listen-overflow \(node-b\)\n {6}named by: shop\/api \d+ \(retransmits\)\n {6}calls from shop\/api: \d+ of \d+ connects failed, \d+ retransmits, dropped \d+ netfilter-drop\n {6}first seen failing \S+ \S+$/);
    assert.match(r.stdout, /\n 2\. shop\/api  score 0\.40\n/);
    const before = await flapwatch('rca', '--prometheus', prometheus.url, '--at', String(Math.floor(Date.now() / 1000) - 3600));
    assert.equal(before.code, 0, before.stderr);
    assert.match(before.stdout, /: no Service failed a health check\.\n$/);
  });

  test('the client says what Prometheus refused', async () => {
    const prom = new PrometheusClient({ url: prometheus.url, timeoutMs: 10_000 });
    await assert.rejects(prom.query('sum(rate(flapwatch_edge_drops_total[5m]'), /^PrometheusError: Prometheus refused the query \(bad_data: .*\): sum\(rate/);
    await assert.rejects(prom.query('flapwatch_edge_drops_total[5m]'), /expected an instant vector, Prometheus answered a matrix/);
    const range = await prom.queryRange('sum(flapwatch_source_up)', Date.now() - 10_000, Date.now(), 2000);
    assert.equal(range.length, 1);
    assert.ok(range[0]!.points.length >= 2 && range[0]!.points.every(([t, v]) => t > 0 && v === 3), JSON.stringify(range));
  });
});

describe("the CLI's errors", () => {
  let hung: Server;
  let hungPort: number;
  before(async () => {
    // accepts and never answers: a Prometheus too busy to
    hung = createServer(() => undefined);
    await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
    hungPort = (hung.address() as { port: number }).port;
  });
  after(() => new Promise<void>((resolve) => {
    hung.closeAllConnections();
    hung.close(() => resolve());
  }));

  test('Prometheus down: exit 2, and which URL did not answer', async () => {
    const port = await freePort();
    for (const command of ['graph', 'rca']) {
      const r = await flapwatch(command, '--prometheus', `http://127.0.0.1:${port}`);
      assert.equal(r.code, 2);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr, `flapwatch: Prometheus at http://127.0.0.1:${port} is unreachable: connect ECONNREFUSED 127.0.0.1:${port}\n`);
    }
  });

  test('a Prometheus that does not answer in --timeout seconds', async () => {
    const r = await flapwatch('rca', '--prometheus', `http://127.0.0.1:${hungPort}`, '--timeout', '0.5');
    assert.equal(r.code, 2);
    assert.equal(r.stderr, `flapwatch: Prometheus at http://127.0.0.1:${hungPort} did not answer within 0.5 s\n`);
  });

  test('a URL that is not Prometheus', async () => {
    const node = await metricsServer([]);
    try {
      const r = await flapwatch('graph', '--prometheus', `http://${node.target}/`);
      assert.equal(r.code, 2);
      assert.equal(r.stderr, `flapwatch: http://${node.target}/api/v1/query answered HTTP 404 Not Found with no JSON: is http://${node.target} Prometheus's base URL?\n`);
    } finally {
      await node.close();
    }
  });

  test('bad flags: exit 2 before asking anything', async () => {
    const cases: [string[], string][] = [
      [['graph', '--prometheus', 'http://p:9090', '--since', '15 minutes'], '--since takes a Prometheus duration from 1s to 31d (30s, 15m, 1h30m), got "15 minutes"'],
      [['graph', '--prometheus', 'http://p:9090', '--since', '0s'], '--since takes a Prometheus duration from 1s to 31d (30s, 15m, 1h30m), got "0s"'],
      [['graph', '--prometheus', 'http://p:9090', '--since', '5m1h'], '--since takes a Prometheus duration from 1s to 31d (30s, 15m, 1h30m), got "5m1h"'],
      [['graph', '--prometheus', 'http://p:9090', '--since', '1500ms'], '--since takes whole seconds, got 1500ms'],
      [['graph'], '--prometheus is required: the base URL of the Prometheus that scrapes flapwatch (e.g. http://prometheus.monitoring:9090)'],
      [['graph', '--prometheus', 'prometheus:9090'], '--prometheus must be an http(s) URL, got prometheus:9090'],
      [['graph', '--prometheus', 'http://p:9090', '--namespace', 'Shop'], '--namespace takes a Kubernetes namespace name, got Shop'],
      [['graph', '--prometheus', 'http://p:9090', '--format', 'svg'], 'Invalid values:\n  Argument: format, Given: "svg", Choices: "table", "dot", "json"'],
      [['rca', '--prometheus', 'http://p:9090', '--at', 'yesterday'], '--at takes RFC 3339 (2026-12-04T12:05:00Z) or Unix seconds, got "yesterday"'],
      [['rca', '--prometheus', 'http://p:9090', '--window', '40d'], '--window takes a Prometheus duration from 1s to 31d (30s, 15m, 1h30m), got "40d"'],
      [['rca', '--prometheus', 'http://p:9090', '--since', '5m'], 'Unknown argument: since'],
    ];
    for (const [args, message] of cases) {
      const r = await flapwatch(...args);
      assert.equal(r.code, 2, args.join(' '));
      assert.equal(r.stderr, `flapwatch: ${message}\nTry flapwatch --help.\n`, args.join(' '));
    }
  });
});
