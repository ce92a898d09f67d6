// The alerts and the recording rules: promtool accepts them, promtool's unit tests fire each alert and keep it
// silent on a near miss (flapwatch-rules.test.yaml) and check what the recording rules sum across nodes
// (flapwatch-graph-rules.test.yaml), each expression reads only contract metrics, each alert links a runbook
// heading of the operator guide, and the PrometheusRule is exactly what the rules file generates.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { guideAnchors, guideSnippet } from './guide';
import { find, PROMETHEUS_OPERATOR, readYamlDocs, resources, ROOT } from './manifests';
import { contract, RECORDED } from './metrics';
import { contractProblems } from './promql';
import { generated, PROMETHEUS_RULE_FILE, RULES_FILE } from './rules';
import { promtoolSkip, run } from './tools';

const UNIT_TESTS = path.join(ROOT, 'test', 'deploy', 'flapwatch-rules.test.yaml');
const GRAPH_UNIT_TESTS = path.join(ROOT, 'test', 'deploy', 'flapwatch-graph-rules.test.yaml');
const RUNBOOK_BASE = 'https://github.com/flapwatch/flapwatch/blob/main/README.md#';

interface Rule { alert?: string; record?: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }
interface UnitTest { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }

const groups = (parse(readFileSync(RULES_FILE, 'utf8')) as { groups: { name: string; rules: Rule[] }[] }).groups;
const rules = groups.flatMap((g) => g.rules);
const alerts = rules.filter((r): r is Rule & { alert: string } => r.alert !== undefined);
const records = rules.filter((r): r is Rule & { record: string } => r.record !== undefined);

/** A scratch copy of the rules and a unit test file, laid out as in the repository (the test file's relative rule_files). */
function scratch(edit: (rules: string, tests: string) => [string, string], unitTests = UNIT_TESTS): { dir: string; tests: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'flapwatch-rules-'));
  const rulesAt = path.join(dir, path.relative(ROOT, RULES_FILE));
  const testsAt = path.join(dir, path.relative(ROOT, unitTests));
  mkdirSync(path.dirname(rulesAt), { recursive: true });
  mkdirSync(path.dirname(testsAt), { recursive: true });
  const [rules, tests] = edit(readFileSync(RULES_FILE, 'utf8'), readFileSync(unitTests, 'utf8'));
  writeFileSync(rulesAt, rules);
  writeFileSync(testsAt, tests);
  return { dir, tests: testsAt };
}

describe('the alerting rules', () => {
  test('there are the six alerts the guide documents', () => {
    assert.deepEqual(alerts.map((a) => a.alert), [
      'FlapwatchHealthCheckFailingWithPacketLoss', 'FlapwatchConntrackInsertFailures', 'FlapwatchConntrackTableNearlyFull',
      'FlapwatchServiceRejectingNoEndpoints', 'FlapwatchNodeDropsHigh', 'FlapwatchSourceDown',
    ]);
  });

  test('promtool check rules accepts them', { skip: promtoolSkip }, () => {
    const r = run('promtool', ['check', 'rules', RULES_FILE]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`SUCCESS: ${rules.length} rules found`));
  });

  test('promtool test rules: every unit test passes', { skip: promtoolSkip }, () => {
    const r = run('promtool', ['test', 'rules', UNIT_TESTS, GRAPH_UNIT_TESTS]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });

  test('the recording rules record the series of the contract, and promtool tests each of them', () => {
    assert.deepEqual([...new Set(records.map((r) => r.record))].sort(), RECORDED.map((m) => m.name).sort());
    const tested = (parse(readFileSync(GRAPH_UNIT_TESTS, 'utf8')) as { tests: { promql_expr_test?: { expr: string }[] }[] }).tests
      .flatMap((t) => t.promql_expr_test ?? []).map((t) => t.expr);
    for (const r of records) assert.ok(tested.includes(r.record), `${r.record} has a promql_expr_test`);
  });

  test('every alert has a unit test where it fires and one where it must not', () => {
    const cases = (parse(readFileSync(UNIT_TESTS, 'utf8')) as { tests: UnitTest[] }).tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const { alert } of alerts) {
      const mine = cases.filter((c) => c.alertname === alert);
      assert.ok(mine.some((c) => c.exp_alerts.length > 0), `${alert} fires in a test`);
      assert.ok(mine.some((c) => c.exp_alerts.length === 0), `${alert} stays silent in a test`);
    }
  });

  test('the unit tests can fail: a wrong threshold and a wrong expectation are caught', { skip: promtoolSkip }, () => {
    const cases: [string, (rules: string, tests: string) => [string, string], string?][] = [
      ['threshold', (rules, tests) => [rules.replace(') > 0.9', ') > 0.96'), tests]],
      ['expectation', (rules, tests) => [rules, tests.replace("summary: 'node-a drops 140 packets/s'", "summary: 'node-a drops 141 packets/s'")]],
      // one node's retransmits instead of their sum
      ['sum across nodes', (rules, tests) => [rules.replace(/sum( by \([^)]*\) \(\s*rate\(flapwatch_edge_retransmits_total)/, 'max$1'), tests], GRAPH_UNIT_TESTS],
    ];
    for (const [what, edit, unitTests] of cases) {
      const s = scratch(edit, unitTests);
      try {
        const r = run('promtool', ['test', 'rules', s.tests]);
        assert.notEqual(r.code, 0, `a wrong ${what} passed`);
        assert.match(r.stdout + r.stderr, /FAILED/);
      } finally {
        rmSync(s.dir, { recursive: true, force: true });
      }
    }
  });

  test('every alert has a severity, a summary, a description and a runbook heading in the guide', () => {
    const anchors = guideAnchors();
    for (const a of alerts) {
      assert.match(a.labels?.severity ?? '', /^(warning|critical)$/, a.alert);
      assert.ok(a.annotations?.summary && a.annotations.description, `${a.alert} has a summary and a description`);
      const url = a.annotations.runbook_url ?? '';
      assert.ok(url.startsWith(RUNBOOK_BASE), `${a.alert}: ${url}`);
      const heading = anchors.get(url.slice(RUNBOOK_BASE.length));
      assert.ok(heading, `${a.alert}: the guide has a heading for #${url.slice(RUNBOOK_BASE.length)}`);
      assert.match(heading, new RegExp(a.alert), `the heading names the alert: ${heading}`);
    }
  });

  test('every expression reads only metrics and labels of the contract', async () => {
    const c = await contract();
    for (const r of rules) assert.deepEqual(contractProblems(r.expr, c), [], r.alert ?? r.record);
  });

  test('the component\'s prometheusrule.yaml is exactly what the rules file generates (no hand-kept twin)', () => {
    assert.equal(readFileSync(PROMETHEUS_RULE_FILE, 'utf8'), generated(), 'regenerate: node dist/test/deploy/rules.js --write');
    const rule = find(resources(PROMETHEUS_OPERATOR), 'PrometheusRule') as unknown as { spec: { groups: unknown } };
    assert.deepEqual(rule.spec.groups, (readYamlDocs(RULES_FILE)[0] as { groups: unknown }).groups);
  });

  // Debian's Prometheus is built without Kubernetes service discovery: then the rest of the guide's configuration
  // (relabelings, rule_files) is checked with the discovery swapped for a static target, and the whole waits for
  // a promtool that has it.
  const promtoolConfig = (text: string) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'flapwatch-prometheus-yml-'));
    try {
      writeFileSync(path.join(dir, 'prometheus.yml'), text.replace('/etc/prometheus/flapwatch-rules.yaml', RULES_FILE));
      return run('promtool', ['check', 'config', path.join(dir, 'prometheus.yml')]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const guideConfig = () => {
    const text = guideSnippet('# prometheus.yml');
    assert.match(text, /\/etc\/prometheus\/flapwatch-rules\.yaml/);
    return text;
  };
  const noKubernetesSd = promtoolSkip ?? (/field kubernetes_sd_configs not found/.test(Object.values(promtoolConfig(guideConfig())).join(''))
    ? "this promtool has no Kubernetes service discovery (Debian's build leaves it out)" : undefined);

  test("promtool accepts the guide's prometheus.yml for Prometheus without the Operator", { skip: noKubernetesSd }, () => {
    const r = promtoolConfig(guideConfig());
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`SUCCESS: ${rules.length} rules found`));
  });

  test("promtool accepts the guide's prometheus.yml with a static target in place of the discovery", { skip: promtoolSkip }, () => {
    const text = guideConfig().replace(/kubernetes_sd_configs:\n(\s+)- role: pod\n\s+namespaces: \{names: \[flapwatch\]\}/,
      "static_configs:\n$1- targets: ['127.0.0.1:9807']");
    assert.match(text, /static_configs/);
    const r = promtoolConfig(text);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`SUCCESS: ${rules.length} rules found`));
  });
});
