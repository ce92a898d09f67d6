// KubeletProbeSource: polls kubelet's /metrics/probes and turns every rise of prober_probe_total{result="failed"}
// into a HealthObservation per pod/container/probe type. Never throws at the daemon: a failed poll is counted,
// logged once per change of cause, and shown in stats() as source "kubelet" down with the reason.
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { HealthObservation } from '../observe/health';
import type { ProbeType } from '../observe/objects';
import type { SourceStats } from '../observe/source';
import { CounterDeltas } from '../observe/deltas';
import { kubeletGet } from './kubelet-http';
import { probeLookbackMs, probeTimeoutMs, type ProbeLookup } from './pods';
import { PolledSource } from '../observe/polled-source';
import { parsePromText } from './prom-text';
import { SERVICE_ACCOUNT_DIR } from '../kube/access';

export const DEFAULT_TOKEN_FILE = `${SERVICE_ACCOUNT_DIR}/token`;
const METRIC = 'prober_probe_total';
const PROBE_TYPES = new Set<string>(['Readiness', 'Liveness', 'Startup']);

export interface KubeletProbeOptions {
  /** e.g. https://NODE_IP:10250/metrics/probes */
  url: string;
  /** re-read at every poll (projected tokens rotate); '' sends no token. Default: the ServiceAccount's */
  tokenFile?: string;
  /** PEM bundle that signed kubelet's serving certificate */
  caFile?: string;
  /** accept kubelet's self-signed serving certificate (metrics-server's --kubelet-insecure-tls) */
  insecure?: boolean;
  intervalMs: number;
  /** per poll; default min(intervalMs, 10 s) */
  timeoutMs?: number;
  /** largest body accepted; default 32 MiB */
  maxBytes?: number;
  /** the pod's probe spec, for the look-back window (kubelet's defaults, 1 s + 10 s, when unknown) */
  probes?: ProbeLookup;
  logger: Logger;
}

interface Series {
  namespace: string;
  pod: string;
  container: string;
  type: ProbeType;
}

export class KubeletProbeSource extends PolledSource<HealthObservation> {
  private readonly url: URL;
  private readonly deltas = new CounterDeltas();
  private readonly series = new Map<string, Series>();
  private lastReadAt: number | undefined;
  private up = false;
  private reason = 'starting';
  private badLines = 0;

  constructor(private readonly opts: KubeletProbeOptions) {
    super(opts, 'kubelet', 'kubelet probe metrics');
    this.url = new URL(opts.url); // a bad URL is a configuration error: loud, at start
    if (this.url.protocol !== 'https:' && this.url.protocol !== 'http:') throw new Error(`kubelet: --kubelet-url must be http(s), got ${opts.url}`);
  }

  override async stop(): Promise<void> {
    await super.stop();
    this.up = false;
    this.reason = 'stopped';
  }

  stats(): SourceStats[] {
    return [{ source: 'kubelet', up: this.up, reason: this.reason, errors: this.errors, eventsLost: 0, rateLimited: 0 }];
  }

  /** Sample lines kubelet sent that could not be read, since start (also counted in errors). */
  malformedLines(): number {
    return this.badLines;
  }

  protected async readOnce(): Promise<void> {
    let text: string;
    try {
      const tokenFile = this.opts.tokenFile ?? DEFAULT_TOKEN_FILE;
      const token = tokenFile ? (await readFile(tokenFile, 'utf8').catch((err: Error) => {
        throw new Error(`cannot read the bearer token: ${err.message}`);
      })).trim() : '';
      const ca = this.opts.caFile && !this.opts.insecure ? await readFile(this.opts.caFile).catch((err: Error) => {
        throw new Error(`cannot read kubelet's CA: ${err.message}`);
      }) : undefined;
      text = await kubeletGet({
        url: this.url, token, ca, insecure: this.opts.insecure ?? false,
        timeoutMs: this.opts.timeoutMs ?? Math.min(this.opts.intervalMs, 10_000),
        maxBytes: this.opts.maxBytes ?? 32 << 20,
      });
    } catch (err) {
      this.errors++;
      this.setDown((err as Error).message);
      return;
    }
    const at = Date.now();
    this.absorb(text, at);
    this.lastReadAt = at;
  }

  private absorb(text: string, at: number): void {
    const parsed = parsePromText(text, (name) => name === METRIC);
    this.badLines += parsed.badLines;
    this.errors += parsed.badLines;
    const current = new Map<string, number>();
    for (const { labels, value } of parsed.samples) {
      const type = labels.probe_type ?? '';
      if (labels.result !== 'failed' || !PROBE_TYPES.has(type) || !labels.namespace || !labels.pod) continue;
      // pod_uid keeps a recreated pod of the same name (a StatefulSet's) a new series that counts from zero
      const key = [labels.namespace, labels.pod, labels.container ?? '', type, labels.pod_uid ?? ''].join('\0');
      current.set(key, value);
      if (!this.series.has(key)) this.series.set(key, { namespace: labels.namespace, pod: labels.pod, container: labels.container ?? '', type: type as ProbeType });
    }
    const deltas = this.deltas.update(current);
    for (const key of this.series.keys()) if (!current.has(key)) this.series.delete(key);
    const reason = parsed.badLines ? `${parsed.badLines} unreadable lines in the last read, e.g. ${JSON.stringify(parsed.firstBad)}` : '';
    if (parsed.badLines && !this.reason.includes('unreadable lines')) this.log.warn({ badLines: parsed.badLines, example: parsed.firstBad }, 'kubelet sent lines that are not Prometheus text');
    this.setUp(reason);
    const gap = this.lastReadAt === undefined ? 0 : at - this.lastReadAt;
    const out: HealthObservation[] = [];
    for (const [key, count] of deltas) {
      const s = this.series.get(key) as Series;
      const pod = { namespace: s.namespace, name: s.pod };
      const spec = this.opts.probes?.(pod, s.container, s.type);
      out.push({
        at,
        source: 'kubelet',
        ok: false,
        pod,
        container: s.container,
        probe: s.type,
        kind: 'unknown',
        detail: `kubelet counted ${count} failed ${s.type.toLowerCase()} probe${count === 1 ? '' : 's'} of ${s.namespace}/${s.pod}${s.container ? ` container ${s.container}` : ''}`,
        // The failures happened somewhere since the previous read: the window reaches back that far too.
        lookbackMs: probeLookbackMs(spec) + gap,
        timeoutMs: probeTimeoutMs(spec),
        count,
      });
    }
    this.emit(out);
  }

  private setDown(reason: string): void {
    if (this.up || this.reason !== reason) this.log.warn(`kubelet probe metrics unavailable: ${reason}`);
    this.up = false;
    this.reason = reason;
  }

  private setUp(reason: string): void {
    if (!this.up) this.log.info({ url: this.url.href }, 'reading kubelet probe metrics');
    this.up = true;
    this.reason = reason;
  }
}
