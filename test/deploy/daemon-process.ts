// `flapwatch run` as a child process for the deploy tests: a free port, its JSON log lines, its /metrics as
// samples, and a SIGTERM stop that waits for the exit.
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { eventually, freePort } from '../helpers/env';

export { freePort };
import { ROOT } from './manifests';

export const CLI = path.join(ROOT, 'dist', 'src', 'cli.js');

export interface Sample { name: string; labels: Record<string, string>; value: number }

/** Samples of the text exposition format (no escapes in our label values). */
export function parseSamples(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1]!, l[2]!]));
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

export interface DaemonProcess {
  child: ChildProcess;
  url: string;
  logs(): Array<Record<string, unknown>>;
  samples(): Promise<Sample[]>;
  ready(): Promise<void>;
  /** SIGTERM, then the exit code */
  stop(): Promise<number | null>;
}

/**
 * Wraps an already spawned daemon listening on `host`:`port`. `daemonPid` names the daemon when `child` is a
 * launcher that does not pass signals on (nsenter waits for the daemon it forked): stop() signals the daemon.
 */
export function daemonProcess(child: ChildProcess, port: number, o: { host?: string; daemonPid?: () => number | undefined } = {}): DaemonProcess {
  const host = o.host ?? '127.0.0.1';
  const url = `http://${host}:${port}`;
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return {
    child,
    url,
    logs: () => out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>),
    async samples() {
      const res = await fetch(`${url}/metrics`);
      if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
      return parseSamples(await res.text());
    },
    async ready() {
      await eventually(async () => {
        if (child.exitCode !== null) throw new Error(`the daemon exited with ${child.exitCode}: ${err}${out}`);
        return (await fetch(`${url}/readyz`).catch(() => null))?.status === 200;
      }, 'the daemon to be ready', 20_000);
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) process.kill(o.daemonPid?.() ?? (child.pid as number), 'SIGTERM');
      return exited;
    },
  };
}

/** The sum of the samples named `name` whose labels include `labels`; undefined when there is none. */
export function sampleValue(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const hits = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return hits.length ? hits.reduce((n, s) => n + s.value, 0) : undefined;
}
