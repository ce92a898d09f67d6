// How to reach the API server: the in-cluster ServiceAccount (read here, in a few lines) or a kubeconfig file
// (read by @kubernetes/client-node, which also runs its exec and OIDC credential plugins). The client is
// loaded only for a kubeconfig: its config module imports the whole generated API, which costs more memory than
// the rest of this source at scale (bench/RESULTS.md), and a DaemonSet never needs it.
import { readFileSync } from 'node:fs';
import type { RequestOptions } from 'node:https';
import { isIPv6 } from 'node:net';

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface TlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  rejectUnauthorized: boolean;
  servername?: string;
}

/** What one request needs; prepared per request, since tokens rotate (bound ServiceAccount tokens, exec plugins). */
export interface RequestAuth {
  headers: Record<string, string>;
  tls: TlsMaterial;
}

export interface ApiAccess {
  server: URL;
  prepare(): Promise<RequestAuth>;
}

export interface InClusterOptions {
  /** default: $KUBERNETES_SERVICE_HOST / $KUBERNETES_SERVICE_PORT, as kubelet sets them in every pod */
  host?: string;
  port?: string;
  /** default: SERVICE_ACCOUNT_DIR */
  dir?: string;
}

export function inClusterAccess(opts: InClusterOptions = {}): ApiAccess {
  const host = opts.host ?? process.env.KUBERNETES_SERVICE_HOST;
  const port = opts.port ?? process.env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) throw new Error('not in a pod: KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT unset (give --kubeconfig)');
  const dir = opts.dir ?? SERVICE_ACCOUNT_DIR;
  const server = new URL(`https://${isIPv6(host) ? `[${host}]` : host}:${port}`);
  return {
    server,
    async prepare() {
      const token = readFileSync(`${dir}/token`, 'utf8').trim();
      return { headers: { Authorization: `Bearer ${token}` }, tls: { ca: readFileSync(`${dir}/ca.crt`), rejectUnauthorized: true } };
    },
  };
}

const toBuffer = (v: unknown): Buffer | undefined =>
  typeof v === 'string' ? Buffer.from(v) : Buffer.isBuffer(v) ? v : undefined;

export function kubeconfigAccess(file: string): ApiAccess {
  const { KubeConfig } = require('@kubernetes/client-node') as typeof import('@kubernetes/client-node');
  const kc = new KubeConfig();
  kc.loadFromFile(file);
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error(`${file}: no current context or cluster`);
  return {
    server: new URL(cluster.server),
    async prepare() {
      const opts: RequestOptions = {};
      await kc.applyToHTTPSOptions(opts);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(opts.headers ?? {})) if (v !== undefined) headers[k] = String(v);
      if (opts.auth) headers.Authorization = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
      return {
        headers,
        tls: {
          ca: toBuffer(opts.ca),
          cert: toBuffer(opts.cert),
          key: toBuffer(opts.key),
          rejectUnauthorized: opts.rejectUnauthorized !== false,
          ...(opts.servername && { servername: opts.servername }),
        },
      };
    },
  };
}

/** '' = in-cluster */
export function accessFor(kubeconfig: string, inCluster?: InClusterOptions): ApiAccess {
  return kubeconfig ? kubeconfigAccess(kubeconfig) : inClusterAccess(inCluster);
}
