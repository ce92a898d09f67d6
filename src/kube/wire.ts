// The few fields of the API's objects that flapwatch reads, every one optional: objects come from the network
// and are read defensively (a missing or mistyped field is as if absent, never a crash).

export interface Metadata {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: { kind?: string; name?: string; controller?: boolean }[];
}

export interface WireService {
  metadata?: Metadata;
  spec?: {
    type?: string;
    clusterIP?: string;
    clusterIPs?: string[];
    externalIPs?: string[];
    ports?: { name?: string; protocol?: string; port?: number; nodePort?: number }[];
  };
  status?: { loadBalancer?: { ingress?: { ip?: string }[] } };
}

export interface WireEndpointSlice {
  metadata?: Metadata;
  addressType?: string;
  ports?: { name?: string; protocol?: string; port?: number }[] | null;
  endpoints?: {
    addresses?: string[];
    conditions?: { ready?: boolean };
    nodeName?: string;
    targetRef?: { kind?: string; name?: string; namespace?: string };
  }[] | null;
}

export type IntOrString = number | string;

export interface WireProbe {
  httpGet?: { path?: string; port?: IntOrString; scheme?: string };
  tcpSocket?: { port?: IntOrString };
  grpc?: { port?: number };
  exec?: unknown;
  timeoutSeconds?: number;
  periodSeconds?: number;
  failureThreshold?: number;
}

export interface WireContainer {
  name?: string;
  ports?: { name?: string; containerPort?: number }[];
  readinessProbe?: WireProbe;
  livenessProbe?: WireProbe;
  startupProbe?: WireProbe;
  restartPolicy?: string;
}

export interface WirePod {
  metadata?: Metadata;
  spec?: { nodeName?: string; hostNetwork?: boolean; containers?: WireContainer[]; initContainers?: WireContainer[] };
  status?: { phase?: string; podIP?: string; podIPs?: { ip?: string }[] };
}

export interface WireEvent {
  metadata?: Metadata;
  involvedObject?: { kind?: string; name?: string; namespace?: string; fieldPath?: string };
  reason?: string;
  message?: string;
  count?: number;
  lastTimestamp?: string | null;
  eventTime?: string | null;
  firstTimestamp?: string | null;
  series?: { count?: number; lastObservedTime?: string } | null;
  source?: { host?: string };
  reportingInstance?: string;
}

/** v if it is an array, else [] */
export const arr = <T>(v: T[] | null | undefined): T[] => (Array.isArray(v) ? v : []);
export const str = (v: unknown): string => (typeof v === 'string' ? v : '');
export const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
