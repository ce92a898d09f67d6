// One HTTP health probe on a connection of its own (no keep-alive: like kubelet's, every probe is a new flow with
// a new conntrack entry through kube-proxy's DNAT), with one deadline for the whole exchange and words for how
// it failed, including which phase a timeout hit: a lost SYN times out connecting, a stuck app awaiting headers.
import * as http from 'node:http';
import * as https from 'node:https';
import type { FailureKind } from '../observe/health';

export interface HttpProbeRequest {
  scheme: 'http' | 'https';
  host: string;
  port: number;
  path: string;
  timeoutMs: number;
  /** the body is read up to this many bytes; the rest is not waited for */
  maxBodyBytes: number;
}

export interface HttpProbeResult {
  /** kubelet's rule: 200 ≤ status < 400 */
  ok: boolean;
  kind: FailureKind;
  status?: number;
  detail: string;
  body?: string;
  ms: number;
}

type Phase = 'connecting' | 'awaiting headers' | 'reading the body';

const KINDS: Record<string, FailureKind> = { ECONNREFUSED: 'refused', ECONNRESET: 'reset', EPIPE: 'reset', ETIMEDOUT: 'timeout' };

export function httpProbe(req: HttpProbeRequest): Promise<HttpProbeResult> {
  const start = Date.now();
  return new Promise((resolve) => {
    let phase: Phase = 'connecting';
    let settled = false;
    const done = (r: Omit<HttpProbeResult, 'ms'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      request.destroy();
      resolve({ ...r, ms: Date.now() - start });
    };
    const options: https.RequestOptions = {
      host: req.host,
      port: req.port,
      path: req.path,
      method: 'GET',
      agent: false,
      headers: { connection: 'close', accept: 'application/json, */*;q=0.5', 'user-agent': 'flapwatch-probe/1' },
      // kubelet does not verify a probe's certificate either: the probe asks "are you up", not "who are you"
      ...(req.scheme === 'https' ? { rejectUnauthorized: false } : {}),
    };
    const request = (req.scheme === 'https' ? https.request : http.request)(options, (res) => {
      phase = 'reading the body';
      const status = res.statusCode ?? 0;
      const ok = status >= 200 && status < 400;
      const detail = `HTTP ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''}`;
      const head = { ok, kind: (ok ? 'unknown' : 'http-status') as FailureKind, status, detail };
      const chunks: Buffer[] = [];
      let size = 0;
      const finish = () => done({ ...head, body: Buffer.concat(chunks).toString('utf8') });
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk.subarray(0, Math.max(0, req.maxBodyBytes - size)));
        size += chunk.length;
        if (size >= req.maxBodyBytes) finish();
      });
      res.on('end', finish);
      // The status line came: a body cut short does not change what the probe said.
      res.on('error', finish);
      res.on('aborted', finish);
    });
    request.on('socket', (socket) => {
      socket.once(req.scheme === 'https' ? 'secureConnect' : 'connect', () => {
        if (phase === 'connecting') phase = 'awaiting headers';
      });
    });
    request.on('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? '';
      done({ ok: false, kind: KINDS[code] ?? 'unknown', detail: err.message === 'socket hang up' ? `connection closed while ${phase} (socket hang up)` : err.message });
    });
    const timer = setTimeout(() => done({ ok: false, kind: 'timeout', detail: `timed out after ${req.timeoutMs} ms while ${phase}` }), req.timeoutMs);
    request.end();
  });
}
