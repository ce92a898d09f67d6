// End to end: Debian's Prometheus scrapes a real `flapwatch run`, loads the shipped rules, and a real fault in
// the lab (a UDP storm into an iptables DROP rule) makes FlapwatchNodeDropsHigh fire, as Prometheus's own
// /api/v1/alerts reports it. The rules are a temporary copy with every `for:` shortened to 5s, so the test
// waits seconds instead of the shipped 10 minutes; expressions and thresholds are the shipped ones.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { eventually, kernelSkip } from '../helpers/env';
import { Lab } from '../lab/lab';
import { udpflood } from '../lab/udpflood';
import { CLI, daemonProcess, freePort, type DaemonProcess } from './daemon-process';
import { RULES_FILE } from './rules';
import { prometheusSkip } from './tools';

const NODE = 'lab-node';

interface Alert { labels: Record<string, string>; annotations: Record<string, string>; state: string }

class Prometheus {
  private constructor(readonly url: string, private readonly child: ChildProcess, private readonly exited: Promise<void>, readonly output: () => string) {}

  static async start(dir: string, target: string): Promise<Prometheus> {
    const rules = path.join(dir, 'rules.yaml');
    writeFileSync(rules, readFileSync(RULES_FILE, 'utf8').replace(/^(\s+)for: \S+$/gm, '$1for: 5s'));
    const config = path.join(dir, 'prometheus.yml');
    writeFileSync(config, stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: [rules],
      // instance := a node name, as the ServiceMonitor's relabeling makes it
      scrape_configs: [{ job_name: 'flapwatch', static_configs: [{ targets: [target] }], relabel_configs: [{ target_label: 'instance', replacement: NODE }] }],
    }));
    const port = await freePort();
    const child = spawn('prometheus', [
      `--config.file=${config}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`,
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const p = new Prometheus(`http://127.0.0.1:${port}`, child, exited, () => out);
    await eventually(async () => {
      if (child.exitCode !== null) throw new Error(`prometheus exited: ${out}`);
      return (await fetch(`${p.url}/-/ready`).catch(() => null))?.status === 200;
    }, 'Prometheus to be ready', 30_000);
    return p;
  }

  async api<T>(what: string): Promise<T> {
    const res = await fetch(`${this.url}/api/v1/${what}`);
    const body = (await res.json()) as { status: string; data: T };
    assert.equal(body.status, 'success', `${what}: ${JSON.stringify(body)}`);
    return body.data;
  }

  async alerts(name: string): Promise<Alert[]> {
    return (await this.api<{ alerts: Alert[] }>('alerts')).alerts.filter((a) => a.labels.alertname === name);
  }

  async query(expr: string): Promise<number | undefined> {
    const data = await this.api<{ result: { value: [number, string] }[] }>(`query?query=${encodeURIComponent(expr)}`);
    return data.result[0] ? Number(data.result[0].value[1]) : undefined;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null) this.child.kill('SIGTERM');
    await this.exited;
  }
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
    prometheus = await Prometheus.start(dir, `127.0.0.1:${port}`);
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
