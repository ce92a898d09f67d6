// The parsers of cpu.stat (v1, v2), cpuacct.usage and cpu.pressure, on the kernel's own text and on text out of shape.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { test } from 'node:test';
import { cpuacctUsageUs, cpuStatV1, cpuStatV2, flatKeyed, pressureSome } from '../../src/cpu/stat';

const V2 = `usage_usec 380364661
user_usec 263946379
system_usec 116418282
core_sched.force_idle_usec 0
nr_periods 1200
nr_throttled 340
throttled_usec 51234567
nr_bursts 0
burst_usec 0
`;

const V1 = `nr_periods 1200
nr_throttled 340
throttled_time 51234567890
nr_bursts 0
burst_time 0
wait_sum 123
`;

test('cpu.stat, both versions; keys the kernel leaves out are 0', () => {
  assert.deepEqual(cpuStatV2(V2), { periods: 1200, throttled: 340, throttledUs: 51234567, usageUs: 380364661 });
  assert.deepEqual(cpuStatV1(V1), { periods: 1200, throttled: 340, throttledUs: 51234567.89, usageUs: 0 });
  // v2 without the cpu controller enabled for the cgroup: only the core usage keys
  assert.deepEqual(cpuStatV2('usage_usec 5\nuser_usec 3\nsystem_usec 2\n'), { periods: 0, throttled: 0, throttledUs: 0, usageUs: 5 });
  assert.deepEqual(flatKeyed('', ['a']), [0]);
});

test('text out of shape is refused whole', () => {
  for (const bad of ['nr_periods x\n', 'nr_periods\n', 'nr_periods -1\n', ' 5\n', 'nr_periods 1 2\n', 'garbage', 'nr_periods 1.5\n']) {
    assert.equal(flatKeyed(bad, ['nr_periods']), undefined, JSON.stringify(bad));
    assert.equal(cpuStatV1(bad), undefined, JSON.stringify(bad));
  }
  assert.equal(cpuStatV2(`${V2}nr_throttled\n`), undefined, 'a line cut short');
  assert.equal(cpuacctUsageUs('12a\n'), undefined);
  assert.equal(cpuacctUsageUs(''), undefined);
  assert.equal(pressureSome('full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n'), undefined);
  assert.equal(pressureSome('some avg10=x avg60=0.00 avg300=0.00 total=0\n'), undefined);
});

test('cpuacct.usage (ns → µs) and the some line of cpu.pressure', () => {
  assert.equal(cpuacctUsageUs('416641395547\n'), 416641395.547);
  assert.deepEqual(pressureSome('some avg10=96.11 avg60=65.57 avg300=21.43 total=97318175\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n'),
    { avg10: 96.11, totalUs: 97318175 });
});

test('this machine\'s own files parse', (t) => {
  const files: [string, (s: string) => unknown][] = [
    ['/sys/fs/cgroup/cpu/cpu.stat', cpuStatV1], ['/sys/fs/cgroup/cpuacct/cpuacct.usage', cpuacctUsageUs],
    ['/sys/fs/cgroup/unified/cpu.pressure', pressureSome], ['/sys/fs/cgroup/cpu.stat', cpuStatV2], ['/sys/fs/cgroup/cpu.pressure', pressureSome],
  ];
  const present = files.filter(([f]) => fs.existsSync(f));
  if (present.length === 0) {
    t.skip('no cgroup cpu files at /sys/fs/cgroup');
    return;
  }
  for (const [file, parse] of present) assert.notEqual(parse(fs.readFileSync(file, 'latin1')), undefined, file);
});
