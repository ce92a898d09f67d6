// Debian's Prometheus for tests: static targets with their labels, optional rule files, scraping and evaluating
// every second; its HTTP API for queries, alerts and rules. On 127.0.0.1, or inside a network namespace.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { eventually, freePort } from '../helpers/env';

export interface Alert { labels: Record<string, string>; annotations: Record<string, string>; state: string }

export interface ScrapeTarget {
  /** host:port */
  target: string;
  /** e.g. instance := the node's name, as the ServiceMonitor's relabeling makes it */
  labels?: Record<string, string>;
}

export interface PrometheusOptions {
  /** its config and database go here */
  dir: string;
  targets: ScrapeTarget[];
  ruleFiles?: string[];
  /** host:port; default 127.0.0.1 and a free port */
  listen?: string;
  /** run inside this network namespace (then `listen` must be one of its addresses) */
  netns?: string;
}

export interface Sample { metric: Record<string, string>; value: number }

export class Prometheus {
  private constructor(readonly url: string, private readonly child: ChildProcess, private readonly exited: Promise<void>, readonly output: () => string) {}

  static async start(o: PrometheusOptions): Promise<Prometheus> {
    const config = path.join(o.dir, 'prometheus.yml');
    writeFileSync(config, stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: o.ruleFiles ?? [],
      scrape_configs: [{ job_name: 'flapwatch', static_configs: o.targets.map((t) => ({ targets: [t.target], labels: t.labels ?? {} })) }],
    }));
    const listen = o.listen ?? `127.0.0.1:${await freePort()}`;
    const argv = ['prometheus', `--config.file=${config}`, `--storage.tsdb.path=${path.join(o.dir, 'data')}`, `--web.listen-address=${listen}`];
    const [cmd, ...args] = o.netns ? ['ip', 'netns', 'exec', o.netns, ...argv] : argv;
    const child = spawn(cmd as string, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const p = new Prometheus(`http://${listen}`, child, exited, () => out);
    try {
      await eventually(async () => {
        if (child.exitCode !== null) throw new Error(`prometheus exited: ${out}`);
        return (await fetch(`${p.url}/-/ready`).catch(() => null))?.status === 200;
      }, 'Prometheus to be ready', 30_000);
    } catch (err) {
      await p.stop();
      throw err;
    }
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

  /** An instant query's samples. */
  async vector(expr: string): Promise<Sample[]> {
    const data = await this.api<{ result: { metric: Record<string, string>; value: [number, string] }[] }>(`query?query=${encodeURIComponent(expr)}`);
    return data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
  }

  /** An instant query's first sample's value. */
  async query(expr: string): Promise<number | undefined> {
    return (await this.vector(expr))[0]?.value;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    await this.exited;
  }

  /** For an exit handler: no waiting. */
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}
