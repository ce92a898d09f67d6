// deploy/components/prometheus-operator/prometheusrule.yaml is generated from deploy/prometheus/flapwatch-rules.yaml,
// the one source of the alerts: its groups, node for node, inside a PrometheusRule. After editing the rules file:
//   npx tsc -p tsconfig.json && node dist/test/deploy/rules.js --write
// rules.test.ts fails while the two differ by a byte.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Document, parseDocument } from 'yaml';
import { DEPLOY, PROMETHEUS_OPERATOR } from './manifests';

export const RULES_FILE = path.join(DEPLOY, 'prometheus', 'flapwatch-rules.yaml');
export const PROMETHEUS_RULE_FILE = path.join(PROMETHEUS_OPERATOR, 'prometheusrule.yaml');

const HEADER = `# GENERATED from deploy/prometheus/flapwatch-rules.yaml (the source: edit that file) by
#   node dist/test/deploy/rules.js --write
# The labels are those kube-prometheus's ruleSelector looks for; kube-prometheus-stack wants its release label.
`;

/** The PrometheusRule text for a rules file's text. */
export function renderPrometheusRule(rulesText: string): string {
  const rules = parseDocument(rulesText);
  if (rules.errors.length) throw new Error(`${RULES_FILE}: ${rules.errors[0]!.message}`);
  const doc = new Document({
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: {
      name: 'flapwatch',
      namespace: 'flapwatch',
      labels: { 'app.kubernetes.io/name': 'flapwatch', prometheus: 'k8s', role: 'alert-rules' },
    },
    spec: {},
  });
  doc.setIn(['spec', 'groups'], rules.get('groups', true)); // the nodes themselves: block scalars stay block scalars
  return HEADER + doc.toString({ lineWidth: 0 });
}

export function generated(): string {
  return renderPrometheusRule(readFileSync(RULES_FILE, 'utf8'));
}

if (require.main === module) {
  if (process.argv[2] !== '--write') {
    process.stderr.write('usage: node dist/test/deploy/rules.js --write\n');
    process.exit(2);
  }
  writeFileSync(PROMETHEUS_RULE_FILE, generated());
  process.stdout.write(`wrote ${path.relative(process.cwd(), PROMETHEUS_RULE_FILE)}\n`);
}
