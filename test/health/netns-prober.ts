// The test side of prober-child.ts: starts an ActiveProber in a network namespace and collects what it reports.
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import type { ActiveProberOptions } from '../../src/health/active';
import type { ProbeTotals } from '../../src/health/active-totals';
import type { HealthObservation } from '../../src/observe/health';
import type { SourceStats } from '../../src/observe/source';
import type { ServicePort } from '../../src/observe/objects';
import type { ChildCommand } from './prober-child';

const CHILD = path.join(__dirname, 'prober-child.js');

export class NetnsProber {
  readonly observations: HealthObservation[] = [];
  private readonly replies = new Map<number, (m: { totals?: ProbeTotals; stats?: SourceStats }) => void>();
  private nextId = 1;
  private readonly exited: Promise<void>;

  private constructor(private readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.on('message', (message) => {
      const m = message as { type: string; id?: number; items?: HealthObservation[]; totals?: ProbeTotals; stats?: SourceStats };
      if (m.type === 'observations') this.observations.push(...(m.items ?? []));
      else if (m.id !== undefined) this.replies.get(m.id)?.(m);
    });
  }

  static start(netns: string, ports: ServicePort[], options: Omit<ActiveProberOptions, 'logger' | 'targets' | 'random'> = {}): NetnsProber {
    const child = spawn('ip', ['netns', 'exec', netns, process.execPath, CHILD], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    const p = new NetnsProber(child);
    p.send({ cmd: 'start', options, ports });
    return p;
  }

  setPorts(ports: ServicePort[]): void {
    this.send({ cmd: 'ports', ports });
  }

  async totals(): Promise<{ totals: ProbeTotals; stats: SourceStats }> {
    const r = await this.request((id) => ({ cmd: 'totals', id }));
    return { totals: r.totals as ProbeTotals, stats: r.stats as SourceStats };
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.connected) {
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
      await Promise.race([this.request((id) => ({ cmd: 'stop', id })), this.exited]);
      clearTimeout(timer);
    }
    await this.exited;
  }

  private send(m: ChildCommand): void {
    this.child.send(m);
  }

  private request(make: (id: number) => ChildCommand): Promise<{ totals?: ProbeTotals; stats?: SourceStats }> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.replies.set(id, (m) => {
        this.replies.delete(id);
        resolve(m);
      });
      this.send(make(id));
    });
  }
}
