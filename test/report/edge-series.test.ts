// The edge series' own exposition text, in the daemon's registry beside prom-client's families: it must read back
// as what was counted (a Prometheus text parser, and promtool's when installed), odd label values included.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { parsePromText } from '../../src/health/prom-text';
import { escapeLabelValue } from '../../src/report/metrics/exposition';
import { edgeMetrics } from '../../src/report/metrics/edges';
import { createRegistry } from '../../src/report/metrics/registry';
import { TextRegistry } from '../../src/report/metrics/text-registry';
import { promtoolSkip } from '../deploy/tools';
import { attributedConnection as connection, attributedDrop as drop, attributedRetransmit as retransmit, WEB } from '../fixtures/observations';

const ODD = 'a\\b"c\nd é}{,=';
const client = { namespace: 'shop', kind: 'Deployment', name: ODD };
const service = { ...WEB, name: 'we"b', portName: 'ht\\tp' };

async function fed(): Promise<string> {
  const registry = createRegistry();
  const edges = edgeMetrics(registry, { labelCap: 100 });
  const latencyUs = new Array<number>(27).fill(0);
  latencyUs[9] = 2;
  edges.add({
    drops: [drop({ packets: 4, service, direction: 'to_service', client, mechanisms: ['netfilter-drop', 'conntrack-table-full'] })],
    retransmits: [retransmit({ packets: 2, service, direction: 'to_service', client })],
    connections: [
      connection({ attempted: 3, established: 2, failed: 1, service, direction: 'to_service', client, latencyUs, latencySumUs: 1500 }),
      connection({ attempted: 1, established: 1, service: WEB, direction: 'to_service', client: { namespace: 'ops', kind: 'StatefulSet', name: 'db' } }),
    ],
  });
  return registry.metrics();
}

test('label values escape backslash, double quote and newline, nothing else', () => {
  assert.equal(escapeLabelValue(ODD), 'a\\\\b\\"c\\nd é}{,=');
  assert.equal(escapeLabelValue('plain-name.1'), 'plain-name.1');
});

test('the edge series parse back as counted, odd label values intact, beside prom-client\'s families', async () => {
  const text = await fed();
  assert.match(text, /^process_resident_memory_bytes /m, 'prom-client\'s families are still there');
  const parsed = parsePromText(text, (name) => name.startsWith('flapwatch_edge_'));
  assert.equal(parsed.badLines, 0, parsed.firstBad);
  const edge = { client_namespace: 'shop', client_kind: 'Deployment', client_workload: ODD, namespace: 'shop', service: 'we"b', port: 'ht\\tp' };
  const value = (name: string, labels: Record<string, string>) =>
    parsed.samples.filter((s) => s.name === name && JSON.stringify(s.labels) === JSON.stringify(labels)).map((s) => s.value);
  assert.deepEqual(value('flapwatch_edge_drops_total', { ...edge, mechanism: 'netfilter-drop+conntrack-table-full' }), [4]);
  assert.deepEqual(value('flapwatch_edge_retransmits_total', edge), [2]);
  assert.deepEqual(value('flapwatch_edge_connections_total', { ...edge, result: 'failed' }), [1]);
  assert.deepEqual(value('flapwatch_edge_connect_seconds_bucket', { ...edge, le: '0.000256' }), [0]);
  assert.deepEqual(value('flapwatch_edge_connect_seconds_bucket', { ...edge, le: '0.001024' }), [2]);
  assert.deepEqual(value('flapwatch_edge_connect_seconds_bucket', { ...edge, le: '+Inf' }), [2]);
  assert.deepEqual(value('flapwatch_edge_connect_seconds_sum', edge), [0.0015]);
  const db = { client_namespace: 'ops', client_kind: 'StatefulSet', client_workload: 'db', namespace: 'shop', service: 'web', port: 'http' };
  assert.deepEqual(value('flapwatch_edge_connections_total', { ...db, result: 'attempted' }), [1]);
  assert.deepEqual(value('flapwatch_edge_connect_seconds_count', db), [], 'no handshake timed: no histogram series');
});

test('each family once: its HELP and TYPE once, before its samples, all of them together', async () => {
  const family = (name: string) => name.replace(/_(bucket|sum|count)$/, '');
  const seen: string[] = [];
  const typed = new Set<string>();
  for (const line of (await fed()).split('\n')) {
    const m = /^# (HELP|TYPE) (\S+)/.exec(line);
    if (m) {
      assert.ok(m[1] === 'TYPE' || !seen.includes(m[2]!), `${m[2]}: HELP again`);
      if (m[1] === 'TYPE') typed.add(m[2]!);
      if (seen.at(-1) !== m[2]) seen.push(m[2]!);
      continue;
    }
    if (!line) continue;
    const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)![0];
    const f = typed.has(name) ? name : family(name);
    assert.ok(typed.has(f), `${name}: a sample before its TYPE`);
    assert.equal(seen.at(-1), f, `${name}: a sample away from its family`);
  }
  assert.equal(new Set(seen).size, seen.length, 'a family split in two');
  for (const name of ['flapwatch_edge_drops_total', 'flapwatch_edge_retransmits_total', 'flapwatch_edge_connections_total', 'flapwatch_edge_connect_seconds']) {
    assert.ok(typed.has(name), name);
  }
});

test('promtool reads the whole exposition', { skip: promtoolSkip }, async () => {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: await fed(), encoding: 'utf8' });
  assert.doesNotMatch(`${r.stdout}${r.stderr}`, /parsing error|error while linting/);
  assert.ok(r.status === 0 || r.status === 3, `promtool exited ${r.status}: ${r.stderr}`);
});

test('a name the edge series write cannot be taken twice', () => {
  const registry = new TextRegistry();
  edgeMetrics(registry, { labelCap: 10 });
  assert.throws(() => edgeMetrics(registry, { labelCap: 10 }), /flapwatch_edge_drops_total has already been registered/);
});
