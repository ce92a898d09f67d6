// An EndpointSlice as flapwatch keeps it: per port, the endpoint views the index will hold (made once here
// and shared by every publish), plus the readiness of the endpoints on this node, for flips.
import type { Protocol } from '../observe/net';
import type { EndpointView, PodRef } from '../observe/objects';
import { protocolFrom } from './services';
import type { StringPool } from './string-pool';
import { arr, num, str, type WireEndpointSlice } from './wire';

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

export interface SlicePort {
  name: string;
  protocol: Protocol;
  endpoints: EndpointView[];
}

export interface LocalEndpoint {
  ip: string;
  ready: boolean;
  pod: PodRef | undefined;
}

export interface SliceRecord {
  /** the Service's `ns/name` */
  service: string;
  ports: SlicePort[];
  /** endpoints whose nodeName is this node */
  local: LocalEndpoint[];
}

/** Shared by every record with nothing to list (most slices have no endpoint on this node). */
const NONE: never[] = [];

// Memory: arrays are made at their exact length (a pushed-to array keeps spare capacity, ~100 bytes each
// over 60,000 of them) and endpoint views get all their properties at once (one hidden class, no
// out-of-object property store).
export function sliceRecord(slice: WireEndpointSlice, nodeName: string, intern: StringPool): SliceRecord | undefined {
  const namespace = intern.get(str(slice.metadata?.namespace));
  const service = str(slice.metadata?.labels?.[SERVICE_NAME_LABEL]);
  if (!service) return undefined;
  const rec: SliceRecord = { service: `${namespace}/${service}`, ports: NONE, local: NONE };
  if (slice.addressType === 'FQDN') return rec;
  const endpoints = arr(slice.endpoints).map((e) => {
    const ref = e.targetRef;
    const pod = ref?.kind === 'Pod' && str(ref.name) ? { namespace: intern.get(str(ref.namespace) || namespace), name: str(ref.name) } : undefined;
    // the API: an absent ready condition means unknown, which consumers should read as ready
    return { ips: arr(e.addresses).filter((a) => typeof a === 'string'), ready: e.conditions?.ready !== false, nodeName: intern.get(str(e.nodeName)), pod };
  });
  const local = endpoints.filter((e) => e.nodeName === nodeName).flatMap((e) => e.ips.map((ip): LocalEndpoint => ({ ip, ready: e.ready, pod: e.pod })));
  if (local.length) rec.local = local.slice();
  const addresses = endpoints.reduce((n, e) => n + e.ips.length, 0);
  const ports: SlicePort[] = [];
  for (const p of arr(slice.ports)) {
    const protocol = protocolFrom(p.protocol);
    const port = num(p.port);
    if (!protocol || !port) continue;
    const views = new Array<EndpointView>(addresses);
    let i = 0;
    for (const e of endpoints) {
      for (const ip of e.ips) views[i++] = { ip, port, ready: e.ready, pod: e.pod, nodeName: e.nodeName || undefined };
    }
    ports.push({ name: intern.get(str(p.name)), protocol, endpoints: views });
  }
  if (ports.length) rec.ports = ports.slice();
  return rec;
}
