// The Prometheus text reader on the exposition format's corner cases (escapes, timestamps, comments, bad lines).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parsePromText } from '../../src/health/prom-text';

test('samples with labels, escapes, timestamps and special values', () => {
  const text = [
    '# HELP prober_probe_total [ALPHA] Cumulative number of probes.',
    '# TYPE prober_probe_total counter',
    'prober_probe_total{container="app",namespace="default",pod="web-0",probe_type="Readiness",result="failed"} 3',
    'odd{a="quote \\" backslash \\\\ newline \\n end",b="}{,=",} 1.5e3 1712345678000',
    '  spaced { a = "x" , b="y" }   -2',
    'bare 7',
    'inf{x="1"} +Inf',
    'ninf -Inf',
    'nan NaN',
    '',
    '# EOF',
  ].join('\r\n');
  const { samples, badLines } = parsePromText(text);
  assert.equal(badLines, 0);
  assert.deepEqual(samples[0], {
    name: 'prober_probe_total',
    labels: { container: 'app', namespace: 'default', pod: 'web-0', probe_type: 'Readiness', result: 'failed' },
    value: 3,
  });
  assert.deepEqual(samples[1], { name: 'odd', labels: { a: 'quote " backslash \\ newline \n end', b: '}{,=' }, value: 1500 });
  assert.deepEqual(samples[2], { name: 'spaced', labels: { a: 'x', b: 'y' }, value: -2 });
  assert.deepEqual(samples[3], { name: 'bare', labels: {}, value: 7 });
  assert.equal(samples[4]?.value, Infinity);
  assert.equal(samples[5]?.value, -Infinity);
  assert.ok(Number.isNaN(samples[6]?.value));
});

test('unreadable lines are counted and skipped; the good ones around them survive', () => {
  const text = [
    'good{a="1"} 1',
    'unterminated{a="1} 2',
    'badescape{a="\\x"} 3',
    'novalue{a="1"}',
    'word{a="1"} many',
    '9starts_with_digit 1',
    'trailing{a="1"} 1 2 3',
    'badlabel{1a="x"} 1',
    'noquote{a=1} 1',
    'good{a="2"} 2',
  ].join('\n');
  const r = parsePromText(text);
  assert.deepEqual(r.samples.map((s) => s.labels.a), ['1', '2']);
  assert.equal(r.badLines, 8);
  assert.equal(r.firstBad, 'unterminated{a="1} 2');
});

test('a name filter skips other metrics before reading their labels', () => {
  const text = 'a{x="1"} 1\nb{broken 2\na{x="2"} 3\n';
  const r = parsePromText(text, (name) => name === 'a');
  assert.deepEqual(r.samples.map((s) => s.value), [1, 3]);
  assert.equal(r.badLines, 0, 'a skipped metric is not read, so not judged');
});
