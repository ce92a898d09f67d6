// A stand-in for kubelet's /metrics/probes: HTTPS with a self-signed certificate made by openssl at test time,
// bearer-token checking (401 without the right token), and the exposition kubelet writes (prober_probe_total
// and prober_probe_duration_seconds, see pkg/kubelet/prober/prober_manager.go).
import * as fs from 'node:fs';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { selfSignedCert } from '../helpers/tls';

export interface ProbeSeries {
  namespace: string;
  pod: string;
  container: string;
  probe_type: 'Readiness' | 'Liveness' | 'Startup';
  result: 'successful' | 'failed' | 'unknown';
  pod_uid: string;
}

const escape = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const labelText = (labels: object) => Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}="${escape(String(v))}"`).join(',');

export class FakeKubelet {
  /** the token requests must carry; '' accepts none */
  token = 'kubelet-test-token';
  /** an answer other than 200 for every request, e.g. 403 */
  forceStatus: number | undefined;
  /** appended verbatim to the exposition (malformed lines, other metrics) */
  extra = '';
  requests = 0;
  readonly authorizations: (string | undefined)[] = [];
  private readonly counters = new Map<string, { series: ProbeSeries; value: number }>();

  private constructor(private readonly server: https.Server, readonly dir: string, readonly caFile: string) {}

  /** On 127.0.0.1, or `host` (an address a daemon in the lab's node namespace reaches). */
  static async start(host = '127.0.0.1'): Promise<FakeKubelet> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fake-kubelet-'));
    const { cert, key, certFile } = selfSignedCert(dir, 'fake-kubelet');
    const server = https.createServer({ cert, key });
    const kubelet = new FakeKubelet(server, dir, certFile);
    server.on('request', (req, res) => kubelet.answer(req.url ?? '', req.headers.authorization, res));
    await new Promise<void>((resolve) => server.listen(0, host, resolve));
    return kubelet;
  }

  get url(): string {
    const { address, port } = this.server.address() as AddressInfo;
    return `https://${address}:${port}/metrics/probes`;
  }

  /** Sets one series of prober_probe_total; value undefined removes it (kubelet drops a deleted pod's series). */
  set(series: ProbeSeries, value: number | undefined): void {
    const key = labelText(series);
    if (value === undefined) this.counters.delete(key);
    else this.counters.set(key, { series, value });
  }

  add(series: ProbeSeries, n = 1): void {
    this.set(series, (this.counters.get(labelText(series))?.value ?? 0) + n);
  }

  exposition(): string {
    const lines = [
      '# HELP prober_probe_total [ALPHA] Cumulative number of a liveness, readiness or startup probe for a container by result.',
      '# TYPE prober_probe_total counter',
    ];
    for (const { series, value } of this.counters.values()) lines.push(`prober_probe_total{${labelText(series)}} ${value}`);
    lines.push('# HELP prober_probe_duration_seconds [ALPHA] Duration in seconds for a probe response.', '# TYPE prober_probe_duration_seconds histogram');
    for (const { series } of this.counters.values()) {
      const { result: _result, ...rest } = series;
      for (const le of ['0.005', '0.1', '1', '+Inf']) lines.push(`prober_probe_duration_seconds_bucket{${labelText({ ...rest, le })}} 1`);
    }
    return `${lines.join('\n')}\n${this.extra}`;
  }

  close(): Promise<void> {
    fs.rmSync(this.dir, { recursive: true, force: true });
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private answer(url: string, authorization: string | undefined, res: import('node:http').ServerResponse): void {
    this.requests++;
    this.authorizations.push(authorization);
    if (this.token && authorization !== `Bearer ${this.token}`) {
      res.writeHead(401, { 'content-type': 'text/plain' }).end('Unauthorized');
    } else if (this.forceStatus) {
      res.writeHead(this.forceStatus, { 'content-type': 'text/plain' }).end(`Forbidden (user=system:serviceaccount:flapwatch:flapwatch, verb=get, resource=nodes, subresource=metrics)`);
    } else if (url !== '/metrics/probes') {
      res.writeHead(404).end();
    } else {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(this.exposition());
    }
  }
}
