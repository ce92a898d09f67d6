// The daemon's real /metrics against the metric contract the dashboard and the alerts are checked with
// (test/deploy/metrics.ts): the same names, types and labels, nothing more, nothing missing, and no label value
// outside a closed set. A daemon in the lab's node, with a fault, so that labelled series have samples.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { parseInvocation } from '../../src/cli';
import { createDaemon, type Daemon } from '../../src/daemon/daemon';
import { METRICS } from '../deploy/metrics';
import { eventually, kernelSkip } from '../helpers/env';
import { Lab } from '../lab/lab';

interface Family {
  type: string;
  labels: Set<string>;
  values: Map<string, Set<string>>;
}

function families(text: string): Map<string, Family> {
  const out = new Map<string, Family>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (flapwatch_\S+) (\S+)$/.exec(line);
    if (type) out.set(type[1]!, { type: type[2]!, labels: new Set(), values: new Map() });
    const sample = /^(flapwatch_[a-z_]+)(?:\{(.*)\})? /.exec(line);
    const f = sample && out.get(sample[1]!);
    if (!f || !sample![2]) continue;
    for (const [, k, v] of sample![2].matchAll(/([a-z_]+)="((?:[^"\\]|\\.)*)"/g)) {
      f.labels.add(k!);
      (f.values.get(k!) ?? f.values.set(k!, new Set()).get(k!)!).add(v!);
    }
  }
  return out;
}

describe('the daemon\'s /metrics keeps the metric contract', { skip: kernelSkip, timeout: 120_000 }, () => {
  let lab: Lab;
  let daemon: Daemon;
  let url: string;
  before(async () => {
    lab = await Lab.create({ pods: 1, services: [{ name: 'web' }, { name: 'gone', endpoints: [] }] });
    const inv = await parseInvocation(['run', '--listen', '127.0.0.1:0', '--probe', `http://${lab.podIp(0)}:${lab.podPort}/health`, '--probe-interval', '1'], false);
    if (inv?.command !== 'run') throw new Error('run expected');
    daemon = createDaemon(inv.config, pino({ level: 'silent' }));
    url = `http://127.0.0.1:${(await daemon.start()).port}/metrics`;
  });
  after(async () => {
    await daemon?.stop();
    await lab?.destroy();
  });

  test('every family is in the contract with its type and labels, and every contract metric is exported', async () => {
    const gone = lab.service('gone');
    // a refused connect in the lab is a drop the tracer sees (its labels get values)
    await lab.tcpConnect(lab.client, gone.clusterIP, gone.port, 1000);
    let text = '';
    await eventually(async () => {
      text = await (await fetch(url)).text();
      return /^flapwatch_drops_total\{/m.test(text) && /^flapwatch_health_probes_total\{/m.test(text);
    }, 'drops and probe results in /metrics', 20_000);
    const got = families(text);
    const want = new Map(METRICS.map((m) => [m.name, m]));
    assert.deepEqual([...got.keys()].filter((n) => !want.has(n)), [], 'exported but not in the contract');
    assert.deepEqual([...want.keys()].filter((n) => !got.has(n)), [], 'in the contract but not exported');
    for (const [name, f] of got) {
      const m = want.get(name)!;
      assert.equal(f.type, m.type, `${name} type`);
      for (const l of f.labels) assert.ok(m.labels.includes(l), `${name} has label ${l} outside the contract`);
      if (f.labels.size) assert.deepEqual([...f.labels].sort(), [...m.labels].sort(), `${name} labels`);
      for (const [label, closed] of Object.entries(m.values ?? {})) {
        for (const v of f.values.get(label) ?? []) assert.ok(closed.includes(v), `${name}{${label}="${v}"} is outside ${closed.join(', ')}`);
      }
    }
  });
});
