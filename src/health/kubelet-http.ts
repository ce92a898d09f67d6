// One GET of kubelet's metrics endpoint with the ServiceAccount's bearer token, and the words for what went wrong:
// a 401/403 names the token or the RBAC rule to add, a TLS failure names the CA or --kubelet-insecure-tls.
import * as http from 'node:http';
import * as https from 'node:https';

export interface KubeletGet {
  url: URL;
  /** bearer token; '' sends none */
  token: string;
  /** PEM CA bundle that signed kubelet's serving certificate */
  ca?: Buffer;
  /** accept any certificate (kubelet's self-signed serving certs, like metrics-server's --kubelet-insecure-tls) */
  insecure: boolean;
  timeoutMs: number;
  maxBytes: number;
}

export class KubeletHttpError extends Error {
  override name = 'KubeletHttpError';
  constructor(message: string, readonly status?: number) {
    super(message);
  }
}

const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_HAS_EXPIRED', 'ERR_TLS_CERT_ALTNAME_INVALID',
]);

function statusError(status: number, url: URL): KubeletHttpError {
  if (status === 401) {
    return new KubeletHttpError(`kubelet answered 401 Unauthorized: it did not accept the bearer token (expired, wrong file, or kubelet runs without --authentication-token-webhook)`, status);
  }
  if (status === 403) {
    return new KubeletHttpError(`kubelet answered 403 Forbidden: the ServiceAccount needs RBAC "get" on "nodes/metrics" (${url.pathname} is authorized as that subresource)`, status);
  }
  return new KubeletHttpError(`kubelet answered HTTP ${status} for ${url.pathname}`, status);
}

/** Plain words for a transport error, naming the fix where there is an obvious one. */
export function describeTransportError(err: NodeJS.ErrnoException, url: URL): string {
  const code = err.code ?? '';
  if (TLS_CODES.has(code)) {
    return `TLS: ${err.message} (${code}): give kubelet's CA (--kubelet-ca) or accept its self-signed certificate (--kubelet-insecure-tls)`;
  }
  if (code === 'ECONNREFUSED') return `nothing listens on ${url.host} (connection refused)`;
  return `${url.host}: ${err.message}${code && !err.message.includes(code) ? ` (${code})` : ''}`;
}

/** Resolves with the body of a 200; rejects with a KubeletHttpError in plain words otherwise. */
export function kubeletGet(req: KubeletGet): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const fail = (message: string, status?: number) => reject(new KubeletHttpError(message, status));
    const headers: Record<string, string> = { accept: 'text/plain;version=0.0.4' };
    if (req.token) headers.authorization = `Bearer ${req.token}`;
    const options: https.RequestOptions = { method: 'GET', headers, agent: false };
    if (req.url.protocol === 'https:') {
      options.rejectUnauthorized = !req.insecure;
      if (req.ca) options.ca = req.ca;
    }
    const get = req.url.protocol === 'https:' ? https.request : http.request;
    const request = get(req.url, options, (res) => {
      const status = res.statusCode ?? 0;
      if (status !== 200) {
        res.resume();
        reject(statusError(status, req.url));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > req.maxBytes) {
          request.destroy();
          fail(`${req.url.pathname} is larger than ${req.maxBytes} bytes`);
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      res.on('error', (err) => fail(describeTransportError(err, req.url)));
    });
    // A deadline on the whole exchange: the socket's idle timeout would let a slow trickle run forever.
    const timer = setTimeout(() => request.destroy(Object.assign(new Error(`no complete answer in ${req.timeoutMs} ms`), { code: 'ETIMEDOUT' })), req.timeoutMs);
    request.on('close', () => clearTimeout(timer));
    request.on('error', (err) => fail(describeTransportError(err, req.url)));
    request.end();
  });
}
