import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mapBytes, memlockLimit, planMaps } from '../../src/kernel/memlock';

const WANT = { maxFlows: 65536, maxRetransmitFlows: 16384, ringBytes: 262144 };
const limits = (soft: string) => `Limit                     Soft Limit           Hard Limit           Units\nMax locked memory         ${soft}                ${soft}                bytes\n`;

test('the maps as asked come to about 13 MB', () => {
  assert.ok(mapBytes(WANT) > 12e6 && mapBytes(WANT) < 14e6, String(mapBytes(WANT)));
});

test('kernels from 5.11 charge maps to the memory cgroup: nothing to fit, whatever the limit', () => {
  assert.deepEqual(planMaps(WANT, '6.18.44', limits('65536'), false), WANT);
  assert.deepEqual(planMaps(WANT, '5.11.0-1-amd64', limits('65536'), false), WANT);
});

test('5.8 to 5.10 under a small memlock limit: the flow maps shrink to fit, with the reason; CAP_SYS_RESOURCE or room keeps them', () => {
  const plan = planMaps(WANT, '5.10.0-23-amd64', limits('8388608'), false);
  assert.ok(mapBytes(plan) <= 8388608, String(mapBytes(plan)));
  assert.ok(plan.maxFlows < WANT.maxFlows && plan.maxFlows >= 1024);
  assert.equal(plan.maxFlows / WANT.maxFlows > 0.5, true, 'in proportion, not to the floor');
  assert.match(plan.reason!, /^kernel 5\.10\.0-23-amd64 charges BPF maps to the locked-memory limit \(8192 KiB here\) .*sized down to \d+ drop flows .*CAP_SYS_RESOURCE/);
  const tiny = planMaps(WANT, '5.10.0', limits('65536'), false);
  assert.deepEqual([tiny.maxFlows, tiny.maxRetransmitFlows], [1024, 1024], 'never below the floor');
  assert.deepEqual(planMaps(WANT, '5.10.0', limits('65536'), true), WANT, 'libbpf raises the limit with CAP_SYS_RESOURCE');
  assert.deepEqual(planMaps(WANT, '5.9.0', limits('unlimited'), false), WANT);
});

test('memlockLimit reads /proc/self/limits', () => {
  assert.equal(memlockLimit(limits('65536')), 65536);
  assert.equal(memlockLimit(limits('unlimited')), Infinity);
  assert.equal(memlockLimit(''), Infinity);
});
