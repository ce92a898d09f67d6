import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dropKey, type DropRule } from '../../src/kubeproxy/model';
import { RuleRises } from '../../src/kubeproxy/rises';

const rule = (over: Partial<DropRule> = {}): DropRule => {
  const d = { kind: 'reject_no_endpoints' as const, service: 'shop/web:http', family: 'ipv4' as const, table: 'filter', chain: 'KUBE-SERVICES', destination: '10.96.0.1:80/tcp', ...over };
  return { key: dropKey(d), packets: 0, ...d };
};

test('the first reading is the baseline; later rises carry the rule and its Service port', () => {
  const r = new RuleRises();
  assert.deepEqual(r.update([rule({ packets: 500 })]), []);
  assert.deepEqual(r.update([rule({ packets: 512 })]), [
    { kind: 'reject_no_endpoints', service: { namespace: 'shop', name: 'web', portName: 'http' }, table: 'filter', chain: 'KUBE-SERVICES', packets: 12 },
  ]);
  assert.deepEqual(r.update([rule({ packets: 3 })]).map((x) => x.packets), [3], 'a decrease is a reset: all of it is new');
  assert.deepEqual(r.update([rule({ packets: 3 })]), []);
});

test('a re-created rule (new nft handle) is a reset even when its counter grew past the old one', () => {
  const r = new RuleRises();
  r.update([rule({ packets: 5, instance: '17' })]);
  assert.deepEqual(r.update([rule({ packets: 8, instance: '42' })]).map((x) => x.packets), [8]);
  assert.deepEqual(r.update([rule({ packets: 9, instance: '42' })]).map((x) => x.packets), [1]);
});

test('rules with one key add up and rise once; node-wide rules have no Service; rules without counters never rise', () => {
  const r = new RuleRises();
  const invalid = (packets: number) => rule({ kind: 'drop_invalid', service: undefined, chain: 'KUBE-FORWARD', destination: '', packets });
  const nft = rule({ packets: undefined, table: 'kube-proxy', chain: 'no-endpoint-services' });
  r.update([rule({ packets: 1 }), rule({ packets: 2 }), invalid(0), nft]);
  assert.deepEqual(r.update([rule({ packets: 2 }), rule({ packets: 4 }), invalid(2), nft]), [
    { kind: 'reject_no_endpoints', service: { namespace: 'shop', name: 'web', portName: 'http' }, table: 'filter', chain: 'KUBE-SERVICES', packets: 3 },
    { kind: 'drop_invalid', table: 'filter', chain: 'KUBE-FORWARD', packets: 2 },
  ]);
});
