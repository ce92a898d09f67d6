// End to end: Debian's Prometheus scrapes a real `flapwatch run`, loads the shipped rules, and a real fault in
// the lab (a UDP storm into an iptables DROP rule) makes FlapwatchNodeDropsHigh fire, as Prometheus's own
// /api/v1/alerts reports it. The rules are a temporary copy with every `for:` shortened to 5s, so the test
// waits seconds instead of the shipped 10 minutes; expressions and thresholds are the shipped ones.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { eventually, kernelSkip } from '../helpers/env';
import { Lab } from '../lab/lab';
import { udpflood } from '../lab/udpflood';
import { CLI, daemonProcess, freePort, type DaemonProcess } from './daemon-process';
import { Prometheus, type Alert } from './prometheus';
import { RULES_FILE } from './rules';
import { prometheusSkip } from './tools';

const NODE = 'lab-node';

/** The shipped rules with every `for:` shortened to 5s. */
function shortenedRules(dir: string): string {
  const rules = path.join(dir, 'rules.yaml');
  writeFileSync(rules, readFileSync(RULES_FILE, 'utf8').replace(/^(\s+)for: \S+$/gm, '$1for: 5s'));
  return rules;
}

describe('Prometheus scraping flapwatch, with the shipped alerts', { skip: kernelSkip ?? prometheusSkip }, () => {
  let dir: string;
  let lab: Lab;
  let daemon: DaemonProcess;
  let prometheus: Prometheus;
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'flapwatch-e2e-'));
    lab = await Lab.create({ pods: 1 });
    const port = await freePort();
    daemon = daemonProcess(spawn(process.execPath, [CLI, 'run', '--listen', `127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] }), port);
    await daemon.ready();
    prometheus = await Prometheus.start({ dir, targets: [{ target: `127.0.0.1:${port}`, labels: { instance: NODE } }], ruleFiles: [shortenedRules(dir)] });
  });
  after(async () => {
    await prometheus?.stop();
    assert.equal(await daemon?.stop(), 0);
    await lab?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('scrapes the daemon, named as the node', async () => {
    await eventually(async () => (await prometheus.query(`up{job="flapwatch",instance="${NODE}"}`)) === 1, 'the target to be up', 30_000);
    assert.equal(await prometheus.query(`flapwatch_source_up{instance="${NODE}",source="drops"}`), 1);
  });

  test('FlapwatchNodeDropsHigh is quiet, then fires during a drop storm', async (t) => {
    const rules = await prometheus.api<{ groups: { rules: { name: string; health: string }[] }[] }>('rules');
    const loaded = rules.groups.flatMap((g) => g.rules);
    assert.ok(loaded.length >= 6 && loaded.every((r) => r.health !== 'err'), JSON.stringify(loaded));
    // a few evaluations with the daemon scraped and no storm: the node's own traffic stays under the threshold
    await eventually(async () => (await prometheus.query(`count_over_time(flapwatch_source_up{instance="${NODE}",source="drops"}[1m])`) ?? 0) >= 5, 'five scrapes', 30_000);
    assert.deepEqual(await prometheus.alerts('FlapwatchNodeDropsHigh'), []);

    const undo = await lab.dropOnPath(0, 1);
    let sent: number;
    try {
      sent = (await udpflood(lab.client, { dst: lab.podIp(0), firstPort: 9000, ports: 16, seconds: 5 })).sent;
    } finally {
      await undo();
    }
    assert.ok(sent > 100 * 300, `the storm is above the threshold even averaged over the rule's 5m window: ${sent} packets`);

    let firing: Alert[] = [];
    const stormEnd = Date.now();
    await eventually(async () => {
      firing = (await prometheus.alerts('FlapwatchNodeDropsHigh')).filter((a) => a.state === 'firing');
      return firing.length > 0;
    }, 'FlapwatchNodeDropsHigh to fire', 60_000);
    t.diagnostic(`${sent} packets sent in 5 s; firing ${((Date.now() - stormEnd) / 1000).toFixed(1)} s after the storm ended`);
    assert.equal(firing[0]!.labels.instance, NODE);
    assert.equal(firing[0]!.labels.severity, 'warning');
    assert.match(firing[0]!.annotations.summary!, new RegExp(`^${NODE} drops \\S+ packets/s$`));
    assert.equal(firing[0]!.annotations.runbook_url, 'https://github.com/flapwatch/flapwatch/blob/main/README.md#flapwatchnodedropshigh');
    const counted = await prometheus.query(`sum(flapwatch_drops_total{instance="${NODE}",reason="NETFILTER_DROP"})`);
    t.diagnostic(`Prometheus counted ${counted} NETFILTER_DROP drops`);
    assert.ok((counted ?? 0) >= sent * 0.9, `Prometheus saw ${counted} NETFILTER_DROP drops of the ${sent} sent`);
  });
});
