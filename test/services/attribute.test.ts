import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attributeConnection, attributeDrop, attributeRetransmit, type IntervalEvidence } from '../../src/services/attribute';
import { ServiceIndex } from '../../src/services/index';
import { connection, drop, retransmit } from '../fixtures/observations';

const NODE = 4026531840;
const CT = { present: true, confirmed: false, dnat: false, snat: false, reply: false };

function index(): ServiceIndex {
  const i = new ServiceIndex();
  i.publish('rules', [
    { namespace: 'shop', name: 'db', portName: 'pg', protocol: 'tcp', port: 5432, clusterIPs: ['10.96.0.20'], externalIPs: [], loadBalancerIPs: [], endpoints: [{ ip: '10.77.1.2', port: 5432 }] },
    { namespace: 'shop', name: 'empty', portName: '', protocol: 'tcp', port: 80, clusterIPs: ['10.96.0.30'], externalIPs: [], loadBalancerIPs: [], endpoints: [] },
  ]);
  return i;
}

const ev = (over: Partial<IntervalEvidence> = {}): IntervalEvidence => ({ netns: NODE, conntrack: {}, rules: [], ...over });
const toVip = (ip: string, port: number) => ({ tuple: { family: 4 as const, proto: 6, saddr: '10.77.0.9', daddr: ip, sport: 40000, dport: port } });

test('a drop after DNAT belongs to the Service its original destination was, to_service', () => {
  const d = attributeDrop(
    index(),
    drop({ ...toVip('10.77.1.2', 5432), origDst: { ip: '10.96.0.20', port: 5432 }, ct: { ...CT, dnat: true } }),
    ev({ rules: [{ kind: 'drop_marked', table: 'filter', chain: 'KUBE-FIREWALL', packets: 1 }] }),
  );
  assert.equal(d.service?.name, 'db');
  assert.equal(d.direction, 'to_service');
  assert.deepEqual(d.mechanisms, ['netfilter-drop']);
  assert.equal(d.detail, 'filter/KUBE-FIREWALL drop_marked');
});

test('a packet from an endpoint is from_service; an unknown one is node', () => {
  const from = attributeDrop(index(), drop({ tuple: { family: 4, proto: 6, saddr: '10.77.1.2', daddr: '10.77.0.9', sport: 5432, dport: 40000 } }), ev());
  assert.equal(from.direction, 'from_service');
  assert.equal(from.service?.name, 'db');
  const node = attributeDrop(index(), drop({ tuple: { family: 4, proto: 17, saddr: '10.1.1.1', daddr: '10.2.2.2', sport: 1, dport: 2 } }), ev());
  assert.equal(node.direction, 'node');
  assert.equal(node.service, null);
});

test('a reply does not take its conntrack original destination as its own', () => {
  const d = attributeDrop(
    index(),
    drop({ tuple: { family: 4, proto: 6, saddr: '10.77.1.2', daddr: '10.77.0.9', sport: 5432, dport: 40000 }, origDst: { ip: '10.96.0.20', port: 5432 }, ct: { ...CT, confirmed: true, dnat: true, reply: true } }),
    ev(),
  );
  assert.equal(d.direction, 'from_service');
});

test('a REJECT for a Service without endpoints is no-endpoints, with the rule when its counter rose', () => {
  const withRule = attributeDrop(
    index(),
    drop({ ...toVip('10.96.0.30', 80), origDst: { ip: '10.96.0.30', port: 80 }, ct: CT }),
    ev({ rules: [{ kind: 'reject_no_endpoints', service: { namespace: 'shop', name: 'empty', portName: '' }, table: 'filter', chain: 'KUBE-SERVICES', packets: 3 }] }),
  );
  assert.deepEqual(withRule.mechanisms, ['no-endpoints']);
  assert.equal(withRule.detail, 'filter/KUBE-SERVICES reject_no_endpoints');
  // nftables mode has no counters: the index knowing no endpoints is the witness
  const noCounters = attributeDrop(index(), drop({ ...toVip('10.96.0.30', 80), origDst: { ip: '10.96.0.30', port: 80 }, ct: CT }), ev());
  assert.deepEqual(noCounters.mechanisms, ['no-endpoints']);
  // a Service with endpoints whose packet was dropped undNATed is some other rule
  const other = attributeDrop(index(), drop({ ...toVip('10.96.0.20', 5432), origDst: { ip: '10.96.0.20', port: 5432 }, ct: CT }), ev());
  assert.deepEqual(other.mechanisms, ['netfilter-drop']);
});

test('without a conntrack entry the stat deltas tell table full from INVALID, and both when both rose', () => {
  const d = drop({ ...toVip('10.96.0.20', 5432), location: 'nf_hook_slow' });
  assert.deepEqual(attributeDrop(index(), d, ev({ conntrack: { drop: 4 } })).mechanisms, ['conntrack-table-full']);
  assert.deepEqual(attributeDrop(index(), d, ev({ conntrack: { invalid: 2 } })).mechanisms, ['conntrack-invalid']);
  assert.deepEqual(attributeDrop(index(), d, ev({ conntrack: { drop: 1, invalid: 1 } })).mechanisms, ['conntrack-table-full', 'conntrack-invalid']);
  const rule = attributeDrop(index(), d, ev({ rules: [{ kind: 'drop_invalid', table: 'filter', chain: 'KUBE-FORWARD', packets: 1 }] }));
  assert.deepEqual(rule.mechanisms, ['conntrack-invalid']);
  assert.equal(rule.detail, 'filter/KUBE-FORWARD drop_invalid');
  // no witness at all: say both candidates
  assert.deepEqual(attributeDrop(index(), d, ev()).mechanisms, ['conntrack-table-full', 'conntrack-invalid']);
  assert.deepEqual(attributeDrop(index(), drop({ ...toVip('10.96.0.20', 5432) }), ev()).mechanisms, ['conntrack-invalid', 'netfilter-drop']);
});

test('a drop freed just after the drain: its witnesses were read in the interval before, and are used only when this one has none', () => {
  const d = drop({ ...toVip('10.96.0.20', 5432), location: 'nf_hook_slow' });
  const invalidBefore = { conntrack: { invalid: 1 }, rules: [{ kind: 'drop_invalid' as const, table: 'filter', chain: 'KUBE-FORWARD', packets: 1 }] };
  assert.deepEqual(attributeDrop(index(), d, ev({ before: invalidBefore })).mechanisms, ['conntrack-invalid']);
  assert.deepEqual(attributeDrop(index(), d, ev({ before: { conntrack: { drop: 3 }, rules: [] } })).mechanisms, ['conntrack-table-full']);
  // this interval's own witness wins over the one before
  assert.deepEqual(attributeDrop(index(), d, ev({ conntrack: { drop: 2 }, before: invalidBefore })).mechanisms, ['conntrack-table-full']);
  // and the node's witnesses, before or not, say nothing of another netns
  assert.deepEqual(attributeDrop(index(), { ...d, netns: 123 }, ev({ before: invalidBefore })).mechanisms, ['conntrack-table-full', 'conntrack-invalid']);
});

test('with nft-based rules the location tells the conntrack hook from a rule, even when both stats rose', () => {
  const nft = { ruleLocation: 'nft_do_chain' as const, conntrack: { drop: 1, invalid: 1 } };
  const atHook = drop({ ...toVip('10.96.0.20', 5432), location: 'nf_hook_slow' });
  assert.deepEqual(attributeDrop(index(), atHook, ev(nft)).mechanisms, ['conntrack-table-full']);
  const byRule = drop({ ...toVip('10.96.0.20', 5432), location: 'nft_do_chain' });
  assert.deepEqual(attributeDrop(index(), byRule, ev(nft)).mechanisms, ['conntrack-invalid']);
  // a rule dropping an untracked packet with no INVALID witness is a plain rule drop
  assert.deepEqual(attributeDrop(index(), byRule, ev({ ruleLocation: 'nft_do_chain' })).mechanisms, ['netfilter-drop']);
  // legacy rules land in nf_hook_slow too: there the stats must decide, and both is the honest answer
  assert.deepEqual(attributeDrop(index(), atHook, ev({ ...nft, ruleLocation: 'nf_hook_slow' })).mechanisms, ['conntrack-table-full', 'conntrack-invalid']);
});

test("the node's stat deltas do not explain drops in another netns", () => {
  const d = drop({ ...toVip('10.96.0.20', 5432), netns: 123, location: 'nf_hook_slow' });
  assert.deepEqual(attributeDrop(index(), d, ev({ conntrack: { drop: 9 } })).mechanisms, ['conntrack-table-full', 'conntrack-invalid']);
});

test('an unconfirmed entry dropped outside a rule while insert_failed rose is an insert failure', () => {
  const d = drop({ ...toVip('10.77.1.2', 5432), origDst: { ip: '10.96.0.20', port: 5432 }, ct: { ...CT, dnat: true }, location: 'nf_hook_slow' });
  assert.deepEqual(attributeDrop(index(), d, ev({ conntrack: { insert_failed: 1 } })).mechanisms, ['conntrack-insert-failed']);
});

test('other reasons are kernel drops, named', () => {
  const d = attributeDrop(index(), drop({ ...toVip('10.77.1.2', 5432), reason: 3, reasonName: 'NO_SOCKET' }), ev());
  assert.deepEqual(d.mechanisms, ['kernel-drop']);
  assert.equal(d.detail, 'NO_SOCKET');
  assert.equal(d.service?.name, 'db');
});

test('retransmits to a ClusterIP are to_service', () => {
  const r = attributeRetransmit(index(), retransmit({ tuple: { family: 4, proto: 6, saddr: '10.77.0.9', daddr: '10.96.0.20', sport: 40000, dport: 5432 } }));
  assert.equal(r.direction, 'to_service');
  assert.equal(r.service?.name, 'db');
});

test('connects to a ClusterIP are the Service\'s, from the client workload their source address is; others are no edge', () => {
  const web = { namespace: 'shop', kind: 'Deployment', name: 'web' };
  const clientOf = (ip: string) => (ip === '10.77.0.9' ? web : undefined);
  const c = attributeConnection(index(), connection({ saddr: '10.77.0.9', dst: { ip: '10.96.0.20', port: 5432 } }), clientOf);
  assert.deepEqual([c.service?.name, c.service?.portName, c.direction, c.client], ['db', 'pg', 'to_service', web]);
  const elsewhere = attributeConnection(index(), connection({ saddr: '10.77.0.9', dst: { ip: '1.1.1.1', port: 443 } }), clientOf);
  assert.deepEqual([elsewhere.service, elsewhere.direction, elsewhere.client], [null, 'node', undefined]);
  const stranger = attributeConnection(index(), connection({ saddr: '10.99.0.1', dst: { ip: '10.96.0.20', port: 5432 } }), clientOf);
  assert.equal(stranger.client, undefined, 'a client not of this node: its edge is counted on its own node');
});
