// What the active prober probes: for every Service port that opts in, its ClusterIP (through kube-proxy) and each
// ready endpoint straight; plus standalone --probe URLs. Targets carry no state: the prober keys its own by `key`.
import type { ProbePath } from '../observe/health';
import type { PodRef, ServiceRef } from '../observe/objects';
import { hostPort } from '../observe/net';
import { objectKey, vipsOf, type ActiveProbeSpec, type ServicePort } from '../observe/objects';

export interface ProbeTarget {
  /** stable identity: path, Service, address and HTTP path */
  key: string;
  /** the Service the probe speaks for; for a --probe URL, namespace '' and the URL (without userinfo) as name */
  service: ServiceRef;
  pod?: PodRef;
  path: ProbePath;
  scheme: 'http' | 'https';
  host: string;
  port: number;
  urlPath: string;
  intervalMs: number;
  timeoutMs: number;
}

export interface UrlProbe {
  url: string;
  intervalMs: number;
  timeoutMs: number;
}

/**
 * Probes of every Service that opts in, on the port its activeProbe names (a multi-port Service opts in once, on
 * each of its port views). A headless Service (no ClusterIP) with a single port gets the pod path only.
 */
export function serviceTargets(ports: readonly ServicePort[]): ProbeTarget[] {
  const bySvc = new Map<string, ServicePort[]>();
  for (const p of ports) {
    if (!p.activeProbe) continue;
    const key = objectKey(p);
    bySvc.set(key, [...(bySvc.get(key) ?? []), p]);
  }
  const out: ProbeTarget[] = [];
  for (const [svc, views] of bySvc) {
    const spec = views[0]?.activeProbe as ActiveProbeSpec;
    const p = views.find((v) => v.port === spec.port && vipsOf(v).length > 0) ?? (views.length === 1 ? views[0] : undefined);
    if (!p) continue; // no port of the Service is the probe's
    const service = { namespace: p.namespace, name: p.name };
    const common = { service, scheme: 'http' as const, urlPath: spec.path, intervalMs: spec.intervalSeconds * 1000, timeoutMs: spec.timeoutSeconds * 1000 };
    const vip = p.port === spec.port ? vipsOf(p)[0] : undefined;
    if (vip) out.push({ ...common, key: `cluster_ip|${svc}|${hostPort(vip)}|${spec.path}`, path: 'cluster_ip', host: vip.ip, port: vip.port });
    for (const e of p.endpoints) {
      if (e.ready === false) continue;
      out.push({
        ...common, ...(e.pod ? { pod: e.pod } : {}),
        key: `pod|${svc}|${hostPort(e)}|${spec.path}`, path: 'pod', host: e.ip, port: e.port,
      });
    }
  }
  return out;
}

/** A --probe URL as a target; throws on a URL that cannot be probed (a configuration error, loud at start). */
export function urlTarget(probe: UrlProbe): ProbeTarget {
  let url: URL;
  try {
    url = new URL(probe.url);
  } catch {
    throw new Error(`--probe: not a URL: ${JSON.stringify(probe.url)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`--probe: only http and https URLs, got ${probe.url}`);
  if (!(probe.intervalMs > 0 && probe.timeoutMs > 0)) throw new Error(`--probe ${probe.url}: interval and timeout must be > 0`);
  const scheme = url.protocol === 'https:' ? 'https' : 'http';
  const port = url.port ? Number(url.port) : scheme === 'https' ? 443 : 80;
  const host = url.hostname.replace(/^\[|\]$/g, ''); // [::1] → ::1 for the socket
  const shown = `${url.protocol}//${url.host}${url.pathname}${url.search}`; // without userinfo
  return {
    key: `url|${shown}`, service: { namespace: '', name: shown }, path: 'url', scheme, host, port,
    urlPath: `${url.pathname}${url.search}`, intervalMs: probe.intervalMs, timeoutMs: probe.timeoutMs,
  };
}
