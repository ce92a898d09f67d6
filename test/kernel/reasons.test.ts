import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_BENIGN_REASONS, DropReasons, normalizeReasonName, reasonNamesFromBtf } from '../../src/kernel/reasons';

const BTF = {
  0: 'SKB_NOT_DROPPED_YET',
  1: 'SKB_CONSUMED',
  2: 'SKB_DROP_REASON_NOT_SPECIFIED',
  3: 'SKB_DROP_REASON_NO_SOCKET',
  12: 'SKB_DROP_REASON_NETFILTER_DROP',
  33: 'SKB_DROP_REASON_TCP_OLD_DATA',
  104: 'SKB_DROP_REASON_QUEUE_PURGE',
  128: 'SKB_DROP_REASON_MAX',
  4294901760: 'SKB_DROP_REASON_SUBSYS_MASK',
};

test('names lose their prefix; marker enumerators are not reasons', () => {
  const names = reasonNamesFromBtf(BTF);
  assert.equal(names.get(12), 'NETFILTER_DROP');
  assert.equal(names.get(0), 'NOT_DROPPED_YET');
  assert.equal(names.get(1), 'CONSUMED');
  assert.equal(names.has(128), false);
  assert.equal(names.has(4294901760), false);
});

test('an unknown reason number is reason_<n>', () => {
  const reasons = new DropReasons(reasonNamesFromBtf(BTF));
  assert.equal(reasons.name(3), 'NO_SOCKET');
  assert.equal(reasons.name(200), 'reason_200');
  assert.equal(new DropReasons(new Map()).name(12), 'reason_12'); // a kernel without the enum
});

test('by default benign frees are not loss, real drops and unknown reasons are', () => {
  const reasons = new DropReasons(reasonNamesFromBtf(BTF));
  for (const benign of [0, 1, 33, 104]) assert.equal(reasons.isLoss(benign), false, reasons.name(benign));
  for (const loss of [2, 3, 12, 200]) assert.equal(reasons.isLoss(loss), true, reasons.name(loss));
});

test('no named reason for housekeeping (IPv6 multicast, IGMP, neighbour discovery, a group address) is no loss; elsewhere it is', () => {
  const reasons = new DropReasons(reasonNamesFromBtf(BTF));
  assert.equal(reasons.name(2), 'NOT_SPECIFIED');
  // what a quiet lab node frees: router solicitations to ff02::2, MLD reports to ff02::16
  assert.equal(reasons.isLoss(2, 'ip6_mc_input', 'ff02::2'), false);
  assert.equal(reasons.isLoss(2, 'ip_rcv_finish_core', 'ff02::16'), false, 'a multicast group, wherever it was freed');
  assert.equal(reasons.isLoss(2, 'ip_rcv_finish_core', '224.0.0.251'), false);
  assert.equal(reasons.isLoss(2, 'ip_rcv_finish_core', '255.255.255.255'), false);
  assert.equal(reasons.isLoss(2, 'ndisc_rcv', 'fe80::1'), false);
  assert.equal(reasons.isLoss(2, 'ip_rcv_finish_core', '10.0.0.5'), true, 'a unicast packet with no route is lost');
  assert.equal(reasons.isLoss(2, 'tcp_v4_rcv', '10.0.0.5'), true);
  assert.equal(reasons.isLoss(12, 'ip6_mc_input', 'ff02::2'), true, 'a named reason is what it says');
});

test('a benign list replaces the default, and can name unknown numbers', () => {
  const reasons = new DropReasons(reasonNamesFromBtf(BTF), ['no_socket', 'reason_200']);
  assert.equal(reasons.isLoss(3), false);
  assert.equal(reasons.isLoss(200), false);
  assert.equal(reasons.isLoss(104), true);
  assert.equal(new DropReasons(reasonNamesFromBtf(BTF), []).isLoss(1), true);
});

test('unknownBenign lists names this kernel lacks', () => {
  const reasons = new DropReasons(reasonNamesFromBtf(BTF), ['QUEUE_PURGE', 'NO_SUCH_REASON', 'reason_9']);
  assert.deepEqual(reasons.unknownBenign(), ['NO_SUCH_REASON']);
});

test('normalizeReasonName and the exported default list', () => {
  assert.equal(normalizeReasonName('queue_purge'), 'QUEUE_PURGE');
  assert.equal(normalizeReasonName('REASON_7'), 'reason_7');
  assert.ok(DEFAULT_BENIGN_REASONS.includes('QUEUE_PURGE'));
  assert.ok(!DEFAULT_BENIGN_REASONS.includes('NOT_SPECIFIED'));
});
