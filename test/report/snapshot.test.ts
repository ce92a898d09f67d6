import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hostPort } from '../../src/observe/net';
import { formatJson, formatTable } from '../../src/report/snapshot-format';
import { SnapshotSummary } from '../../src/report/snapshot-summary';
import { attributeGroup } from '../../src/services/attribute';
import { ServiceIndex } from '../../src/services/index';
import type { NodeInterval } from '../../src/node/interval';
import { attributedDrop, attributedRetransmit, drop, retransmit, WEB } from '../fixtures/observations';

const LOST = { dropFlowsEvicted: 1, dropMapFull: 0, retransmitFlowsEvicted: 0, retransmitMapFull: 0 };
const DNAT = { present: true, confirmed: false, dnat: true, snat: false, reply: false };

function sample(): SnapshotSummary {
  const s = new SnapshotSummary();
  s.addDrops([
    // two endpoints behind one ClusterIP: one row, under the original destination
    drop({ packets: 2, bytes: 120, origDst: { ip: '10.96.7.7', port: 80 }, ct: DNAT }),
    drop({ packets: 3, bytes: 180, origDst: { ip: '10.96.7.7', port: 80 }, ct: DNAT, tuple: { ...drop().tuple, daddr: '10.77.4.3' } }),
    drop({ packets: 9, bytes: 900, reason: 3, reasonName: 'NO_SOCKET', location: 'udp_queue_rcv_one_skb', tuple: { ...drop().tuple, proto: 17, dport: 9 } }),
    drop({ packets: 1, bytes: 52, reason: 104, reasonName: 'QUEUE_PURGE', location: 'tcp_done', loss: false }),
  ]);
  s.addRetransmits([retransmit({ packets: 2 }), retransmit({ packets: 1 })]);
  return s;
}

test('rows are grouped by reason, function and destination, sorted by packets', () => {
  const r = sample().report(5, LOST);
  assert.deepEqual(
    r.drops.map((d) => [d.packets, d.reason, d.location, d.proto, hostPort(d.destination), d.original, d.loss]),
    [
      [9, 'NO_SOCKET', 'udp_queue_rcv_one_skb', 'udp', '10.77.4.2:9', false, true],
      [5, 'NETFILTER_DROP', 'nft_do_chain', 'tcp', '10.96.7.7:80', true, true],
      [1, 'QUEUE_PURGE', 'tcp_done', 'tcp', '10.77.4.2:8080', false, false],
    ],
  );
  assert.deepEqual(r.retransmits, [{ state: 'SYN_SENT', destination: { ip: '10.96.7.7', port: 80 }, packets: 3 }]);
});

test('a reply-direction packet keeps its own destination', () => {
  const s = new SnapshotSummary();
  s.addDrops([drop({ origDst: { ip: '10.96.7.7', port: 80 }, ct: { ...DNAT, reply: true } })]);
  const [row] = s.report(1, LOST).drops;
  assert.equal(hostPort(row.destination), '10.77.4.2:8080');
  assert.equal(row.original, false);
});

test('the table is aligned, numbers to the right', () => {
  assert.equal(
    formatTable(sample().report(5, LOST)),
    [
      'Drops in 5 s (LOSS no = a benign free, see --benign-reasons; * = original destination before DNAT):',
      'PACKETS  BYTES  LOSS  REASON          LOCATION               PROTO  DESTINATION',
      '      9    900  yes   NO_SOCKET       udp_queue_rcv_one_skb  udp    10.77.4.2:9',
      '      5    300  yes   NETFILTER_DROP  nft_do_chain           tcp    10.96.7.7:80 *',
      '      1     52  no    QUEUE_PURGE     tcp_done               tcp    10.77.4.2:8080',
      '',
      'TCP retransmits:',
      'PACKETS  STATE     DESTINATION',
      '      3  SYN_SENT  10.96.7.7:80',
      '',
      'No Service lost anything.',
      '',
      'Conntrack: not readable.',
      '',
      'Not seen: 1 drop flows evicted, 0 drops refused by a full map, 0 retransmit flows evicted, 0 retransmits refused by a full map.',
      '',
    ].join('\n'),
  );
});

test('an empty watch says so', () => {
  const text = formatTable(new SnapshotSummary().report(2, LOST));
  assert.match(text, /^No drops in 2 s\.$/m);
  assert.match(text, /^No TCP retransmits\.$/m);
});

test('JSON carries names, addresses, ports, counts and what was lost', () => {
  const parsed = JSON.parse(formatJson(sample().report(5, LOST)));
  assert.equal(parsed.durationSeconds, 5);
  assert.deepEqual(parsed.drops[1], {
    reason: 'NETFILTER_DROP', reasonCode: 12, location: 'nft_do_chain', loss: true, proto: 'tcp',
    destination: { ip: '10.96.7.7', port: 80 }, original: true, packets: 5, bytes: 300,
  });
  assert.equal(parsed.retransmits[0].packets, 3);
  assert.deepEqual(parsed.lost, LOST);
});

test('endpoints: IPv6 in brackets, no port for portless protocols', () => {
  assert.equal(hostPort({ ip: 'fd00::1', port: 80 }), '[fd00::1]:80');
  assert.equal(hostPort({ ip: '10.0.0.1', port: 0 }), '10.0.0.1');
});

test('per Service: drops by mechanism, retransmits, unreplied flows, rule packets; the node\'s conntrack health', () => {
  const s = new SnapshotSummary();
  const DB = { ...WEB, name: 'db', portName: 'pg', port: 5432, clusterIPs: ['10.96.7.8'], externalIPs: [], loadBalancerIPs: [], endpoints: [] };
  const interval = (over: Partial<NodeInterval>): NodeInterval => ({ start: 0, end: 1000, drops: [], retransmits: [], connections: [], rules: [], diedUnreplied: [], ...over });
  s.addInterval(interval({
    drops: [
      attributedDrop({ packets: 3, service: DB, direction: 'to_service', mechanisms: ['no-endpoints'] }),
      attributedDrop({ packets: 2, service: WEB, direction: 'to_service', mechanisms: ['netfilter-drop'] }),
      attributedDrop({ packets: 1, service: WEB, direction: 'to_service', mechanisms: ['conntrack-table-full', 'conntrack-invalid'] }),
      attributedDrop({ packets: 8, service: WEB, loss: false, reasonName: 'QUEUE_PURGE' }),
    ],
    retransmits: [attributedRetransmit({ packets: 4, service: WEB, direction: 'to_service' })],
    rules: [
      { kind: 'reject_no_endpoints', service: { namespace: 'shop', name: 'db', portName: 'pg' }, table: 'filter', chain: 'KUBE-SERVICES', packets: 3 },
      { kind: 'drop_invalid', table: 'filter', chain: 'KUBE-FORWARD', packets: 1 },
    ],
    conntrack: { counters: {}, deltas: { drop: 1, invalid: 0 }, entries: 10, max: 1000, diedUnreplied: [] },
  }));
  s.addInterval(interval({ conntrack: { counters: {}, deltas: { drop: 2, invalid: 0 }, entries: 12, max: 1000, diedUnreplied: [] } }));
  const index = new ServiceIndex();
  index.publish('rules', [WEB, DB]);
  s.setUnreplied([attributeGroup(index, { daddr: '10.96.7.7', dport: 80, proto: 6, state: 'SYN_SENT', flows: 5, unreplied: 5, assured: 0 })]);
  const r = s.report(2, LOST);
  assert.deepEqual(r.services, [
    { namespace: 'shop', name: 'web', drops: { 'netfilter-drop': 2, 'conntrack-table-full+conntrack-invalid': 1 }, retransmits: 4, unrepliedFlows: 5, rulePackets: {} },
    { namespace: 'shop', name: 'db', drops: { 'no-endpoints': 3 }, retransmits: 0, unrepliedFlows: 0, rulePackets: { reject_no_endpoints: 3 } },
  ]);
  assert.deepEqual(r.conntrack, { entries: 12, max: 1000, stats: { drop: 3, invalid: 0 } });
  assert.deepEqual(r.nodeRulePackets, { drop_invalid: 1 });
  const text = formatTable(r);
  assert.match(text, /^SERVICE {3}DROPS BY MECHANISM +RETRANSMITS {2}UNREPLIED {2}KUBE-PROXY REJECT\/DROP RULES$/m);
  assert.match(text, /^shop\/web  netfilter-drop 2, conntrack-table-full\+conntrack-invalid 1  4 +5 +-$/m);
  assert.match(text, /^shop\/db   no-endpoints 3 +0 +0 +reject_no_endpoints 3$/m);
  assert.match(text, /^Node-wide kube-proxy rules: drop_invalid 1\.$/m);
  assert.match(text, /^Conntrack: 12 of 1000 entries \(1\.2%\); rose: drop 3\.$/m);
  assert.deepEqual(JSON.parse(formatJson(r)).services[1].rulePackets, { reject_no_endpoints: 3 });
});
