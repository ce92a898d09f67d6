// kubelet's prober for a lab node: every period, each pod's readiness probe (HTTP GET from the node, as kubelet
// probes), reported as kubelet reports it — prober_probe_total on the node's fake kubelet, and an Unhealthy Event
// per failure streak's failure in the API server. One per node; the probe itself is the caller's (a process in
// the node's namespaces).
import type { FakeApiServer } from '../kube/fake-apiserver';
import { unhealthyEvent } from '../kube/objects';
import type { HttpResult } from '../lab/lab';
import type { FakeKubelet, ProbeSeries } from './fake-kubelet';

export interface ProbedPod {
  namespace: string;
  name: string;
  ip: string;
  port: number;
  path: string;
  container?: string; // default 'app'
  uid?: string; // default uid-NAME
}

export interface KubeletProberOptions {
  /** the node's name, the Events' source host */
  node: string;
  pods: readonly ProbedPod[];
  /** one HTTP GET from the node */
  probe: (ip: string, port: number, path: string, timeoutMs: number) => Promise<HttpResult>;
  kubelet: FakeKubelet;
  api: FakeApiServer;
  timeoutSeconds: number;
  periodSeconds: number;
}

export class KubeletProber {
  /** probe results so far, per pod in the order given: true = success */
  readonly results: boolean[][];
  /** when each failure happened (ms since the epoch), by the pod's index in the order given */
  readonly failures: { pod: number; at: number }[] = [];
  private readonly events: number[];
  private running = true;
  private readonly loop: Promise<void>;

  constructor(private readonly o: KubeletProberOptions) {
    this.results = o.pods.map(() => []);
    this.events = o.pods.map(() => 0);
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private series(p: ProbedPod, result: ProbeSeries['result']): ProbeSeries {
    return { namespace: p.namespace, pod: p.name, container: p.container ?? 'app', probe_type: 'Readiness', result, pod_uid: p.uid ?? `uid-${p.name}` };
  }

  private async probeOnce(i: number): Promise<void> {
    const p = this.o.pods[i] as ProbedPod;
    const at = Date.now();
    const r = await this.o.probe(p.ip, p.port, p.path, this.o.timeoutSeconds * 1000);
    const ok = r.status === 200;
    this.results[i]!.push(ok);
    this.o.kubelet.add(this.series(p, ok ? 'successful' : 'failed'));
    if (ok) return;
    this.failures.push({ pod: i, at });
    const message = r.status
      ? `Readiness probe failed: HTTP probe failed with statuscode: ${r.status}`
      : `Readiness probe failed: Get "http://${p.ip}:${p.port}${p.path}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`;
    this.events[i]!++;
    this.o.api.put('events', unhealthyEvent(p.namespace, `${p.name}.fw${i}`, {
      pod: p.name, count: this.events[i]!, message, host: this.o.node, last: new Date(at), container: p.container,
    }));
  }

  private async run(): Promise<void> {
    while (this.running) {
      const started = Date.now();
      await Promise.all(this.o.pods.map((_, i) => this.probeOnce(i)));
      await new Promise((r) => setTimeout(r, Math.max(0, this.o.periodSeconds * 1000 - (Date.now() - started))));
    }
  }
}
