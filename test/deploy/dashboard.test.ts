// The Grafana dashboard queries only what flapwatch exports (the contract in metrics.ts), every query is
// PromQL that promtool accepts once Grafana's variables are filled in, and it shows what the issue asks for.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { stringify } from 'yaml';
import { DEPLOY } from './manifests';
import { contract } from './metrics';
import { contractProblems, references } from './promql';
import { promtoolSkip, run } from './tools';

interface Target { expr: string; refId: string; instant?: boolean; format?: string }
interface Transformation { id: string; filter?: { id: string; options: string }; options: { renameByName?: Record<string, string> } }
interface Panel { id: number; type: string; title: string; targets?: Target[]; panels?: Panel[]; datasource?: { uid: string }; transformations?: Transformation[] }
interface Variable { name: string; type: string; query: string | { query: string } }
interface Dashboard { uid: string; panels: Panel[]; templating: { list: Variable[] } }

const FILE = path.join(DEPLOY, 'grafana', 'flapwatch-dashboard.json');
const dashboard = JSON.parse(readFileSync(FILE, 'utf8')) as Dashboard;
const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
const targets = panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));

/** The series selector inside a query variable's label_values(SELECTOR, LABEL), and LABEL. */
function variableQuery(v: Variable): { selector: string; label: string } | undefined {
  const q = typeof v.query === 'string' ? v.query : v.query.query;
  const m = /^label_values\((.*),\s*(\w+)\)$/.exec(q.trim());
  return m ? { selector: m[1]!, label: m[2]! } : undefined;
}

/** Grafana's variables replaced by values of the right shape, for promtool. */
function filled(expr: string): string {
  return expr
    .replace(/\$__rate_interval|\$__interval|\$__range/g, '5m')
    .replace(/\$\{?(\w+)\}?/g, (_, name: string) => ({ instance: 'node-a|node-b', job: 'flapwatch', namespace: 'web', service: 'api' })[name] ?? 'x');
}

describe('the Grafana dashboard', () => {
  test('every panel query reads only metrics and labels of the contract', async () => {
    const c = await contract();
    assert.ok(targets.length >= 15, `${targets.length} queries`);
    for (const t of targets) assert.deepEqual(contractProblems(t.expr, c), [], `${t.panel}: ${t.expr}`);
  });

  test('every variable query reads contract metrics, and offers a label they have', async () => {
    const c = await contract();
    const queries = dashboard.templating.list.filter((v) => v.type === 'query');
    assert.deepEqual(queries.map((v) => v.name).sort(), ['instance', 'job', 'namespace', 'service']);
    for (const v of queries) {
      const q = variableQuery(v);
      assert.ok(q, `${v.name} is a label_values() query`);
      assert.deepEqual(contractProblems(q.selector, c), [], v.name);
      assert.deepEqual(contractProblems(`sum by (${q.label}) (${q.selector})`, c), [], `${v.name} offers ${q.label}`);
    }
  });

  test('the checker behind those two tests refuses what flapwatch does not export', async () => {
    const c = await contract();
    const bad: [string, RegExp][] = [
      ['rate(flapwatch_drop_total[5m])', /flapwatch_drop_total is not a metric/],
      ['sum by (reason) (rate(flapwatch_nope_total[5m]))', /flapwatch_nope_total is not a metric/],
      ['sum by (verdict) (rate(flapwatch_drops_total[5m]))', /groups by verdict/],
      ['flapwatch_kubeproxy_rule_packets_total{rule="reject_no_endpoint"}', /matches none of/],
      ['flapwatch_drops_total{mechanism=~"no_endpoints"}', /matches none of/],
      ['flapwatch_conntrack_entries{node="a"}', /has no label node/],
      ['{__name__=~"flapwatch_nothing_.*"}', /without a metric name/],
      ['sum by (id) (label_join(flapwatch_conntrack_entries, "key", "/", "instance"))', /groups by id/],
    ];
    for (const [expr, why] of bad) assert.ok(contractProblems(expr, c).some((p) => why.test(p)), `${expr}: ${contractProblems(expr, c)}`);
  });

  test('a label made by label_join or label_replace may be grouped by', async () => {
    const c = await contract();
    assert.deepEqual(contractProblems('sum by (id, node) (label_replace(label_join(flapwatch_conntrack_entries, "id", "/", "instance"), "node", "$1", "instance", "(.*)"))', c), []);
  });

  test('a Node Graph of every node\'s service graph: an edges frame and a nodes frame, from the recording rules', () => {
    const graph = panels.filter((p) => p.type === 'nodeGraph');
    assert.equal(graph.length, 1);
    const { targets = [], transformations = [] } = graph[0]!;
    assert.deepEqual(targets.map((t) => t.refId), ['edges', 'edges_failed', 'nodes', 'nodes_failed']);
    for (const t of targets) {
      assert.ok(t.instant && t.format === 'table', `${t.refId}: an instant query as a table`);
      for (const sel of references(t.expr).selectors) assert.match(sel.metric ?? '', /^(edge|workload):/, `${t.refId} reads recorded series`);
      // the frame's fields are the labels the query ends grouped by, and its value
      assert.match(t.expr, t.refId.startsWith('edges') ? /^sum by \(id, source, target\) / : /^sum by \(id, title, subtitle\) /, t.refId);
    }
    // the refIds pipe-joined, as Grafana's editor writes a filter of several queries
    assert.deepEqual(transformations.slice(0, 2).map((x) => [x.id, x.filter?.id, x.filter?.options]), [['merge', 'byRefId', 'edges|edges_failed'], ['merge', 'byRefId', 'nodes|nodes_failed']]);
    assert.deepEqual(transformations[2]!.options.renameByName, {
      'Value #edges': 'mainstat', 'Value #edges_failed': 'secondarystat', 'Value #nodes': 'mainstat', 'Value #nodes_failed': 'secondarystat',
    });
  });

  test('promtool accepts every query as PromQL', { skip: promtoolSkip }, () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'flapwatch-dashboard-'));
    try {
      const file = path.join(dir, 'queries.yaml');
      const rules = targets.map((t, i) => ({ record: `dashboard:query_${i}`, expr: filled(t.expr) }));
      writeFileSync(file, stringify({ groups: [{ name: 'dashboard', rules }] }));
      const r = run('promtool', ['check', 'rules', file]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      // and the check is not blind to a syntax error
      writeFileSync(file, stringify({ groups: [{ name: 'dashboard', rules: [{ record: 'x:y', expr: filled(`${targets[0]!.expr})`) }] }] }));
      assert.notEqual(run('promtool', ['check', 'rules', file]).code, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('shows per Service: failures by verdict, drops by mechanism, retransmits, probes per path, retries', () => {
    const perService = targets.filter((t) => /namespace="\$namespace", service="\$service"/.test(t.expr));
    const shows = (metric: string, by: string) =>
      perService.some((t) => references(t.expr).selectors.some((s) => s.metric === metric) && references(t.expr).groupingLabels.includes(by));
    assert.ok(shows('flapwatch_health_failures_total', 'verdict'));
    assert.ok(shows('flapwatch_drops_total', 'mechanism'));
    assert.ok(shows('flapwatch_tcp_retransmits_total', 'direction'));
    assert.ok(shows('flapwatch_health_probes_total', 'path'));
    assert.ok(shows('flapwatch_health_probe_retries_total', 'result'));
  });

  test('shows per node: conntrack entries against max, stat rates, sources up', () => {
    const perNode = targets.filter((t) => /instance=~"\$instance"/.test(t.expr)).map((t) => t.expr).join('\n');
    for (const m of ['flapwatch_conntrack_entries', 'flapwatch_conntrack_max', 'flapwatch_conntrack_stat_total', 'flapwatch_source_up']) {
      assert.match(perNode, new RegExp(`${m}\\{`), m);
    }
  });

  test('every panel has a unique id and the data source variable', () => {
    const ids = panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const p of panels.filter((x) => x.type !== 'row')) assert.equal(p.datasource?.uid, '${datasource}', p.title);
    assert.ok(dashboard.templating.list.some((v) => v.name === 'datasource' && v.type === 'datasource'));
  });
});
