// What kubelet's `Unhealthy` Events and EndpointSlice readiness flips say, as HealthObservations. The message
// shapes are kubelet's (pkg/kubelet/prober/prober.go: "%s probe failed: %s" / "%s probe errored: %v", with the
// outputs of pkg/probe/{http,tcp,grpc,exec}); the detail is kept verbatim for the incident.
import type { ReadinessFlip, UnhealthyEvent } from '../kube/types';
import type { FailureKind, HealthObservation } from '../observe/health';
import type { ProbeSpec, ProbeType } from '../observe/objects';
import { flipLookbackMs, probeLookbackMs, probeTimeoutMs, type ProbeLookup } from './pods';

export interface ProbeMessage {
  type?: ProbeType;
  /** failed: the check ran and failed; errored: kubelet could not run it (exec in the runtime, …) */
  outcome: 'failed' | 'errored' | 'warning' | 'unknown';
  kind: FailureKind;
  status?: number;
  /** the part after "<Type> probe failed: ", trimmed */
  detail: string;
}

const PREFIX = /^(?:\(combined from similar events\):\s*)?(Readiness|Liveness|Startup) probe (failed|errored|warning):\s*([\s\S]*)$/;
const STATUS = /HTTP probe failed with statuscode: (\d{3})/;
// Go's net/http and net errors (client.Timeout, DialTimeout), gRPC's "timeout: …", exec's "command … timed out"
const TIMEOUT = /context deadline exceeded|Client\.Timeout exceeded|i\/o timeout|\btimed out\b|^timeout: |DeadlineExceeded/i;
const REFUSED = /connection refused/i;
// EOF: the server closed the connection before answering
const RESET = /connection reset by peer|broken pipe|\bEOF$/i;
const EXEC = /OCI runtime exec failed|failed to exec in container|executable file not found|exec failed|exec format error/i;

/**
 * Reads a probe event's message. `handler` is the probe's kind from the pod spec when known: an exec probe's
 * failure message is whatever the command printed, so only the spec can call it an exec failure.
 */
export function classifyProbeMessage(message: string, handler?: ProbeSpec['handler']['kind']): ProbeMessage {
  const m = PREFIX.exec(message.trim());
  const detail = (m ? m[3] ?? '' : message).trim();
  const type = m?.[1] as ProbeType | undefined;
  const outcome = (m?.[2] ?? 'unknown') as ProbeMessage['outcome'];
  const base = { ...(type ? { type } : {}), outcome, detail };
  const status = STATUS.exec(detail);
  if (status) return { ...base, kind: 'http-status', status: Number(status[1]) };
  if (outcome === 'errored') return { ...base, kind: 'exec' };
  if (TIMEOUT.test(detail)) return { ...base, kind: 'timeout' };
  if (REFUSED.test(detail)) return { ...base, kind: 'refused' };
  if (RESET.test(detail)) return { ...base, kind: 'reset' };
  if (EXEC.test(detail) || handler === 'exec') return { ...base, kind: 'exec' };
  return { ...base, kind: 'unknown' };
}

/**
 * One Unhealthy Event update as the kube source hands it over; `count` is already what the update added (the kube
 * source diffs Event.count by the Event's uid), so each observation carries it as it is.
 */
export function fromUnhealthyEvent(ev: UnhealthyEvent, probes?: ProbeLookup): HealthObservation | undefined {
  if (!(ev.count > 0)) return undefined; // a re-delivered update that added nothing
  const first = classifyProbeMessage(ev.message);
  const spec = first.type ? probes?.(ev.pod, ev.container, first.type) : undefined;
  const msg = spec ? classifyProbeMessage(ev.message, spec.handler.kind) : first;
  if (msg.outcome === 'warning') return undefined; // a redirect kubelet did not follow: the probe passed
  return {
    at: ev.at,
    source: 'event',
    ok: false,
    pod: ev.pod,
    ...(ev.container ? { container: ev.container } : {}),
    probe: msg.type ?? 'unknown',
    kind: msg.kind,
    ...(msg.status !== undefined ? { status: msg.status } : {}),
    detail: msg.detail,
    lookbackMs: probeLookbackMs(spec),
    timeoutMs: probeTimeoutMs(spec),
    count: ev.count,
  };
}

/** ready → false is a failure; ready → true says nothing (undefined). */
export function fromReadinessFlip(flip: ReadinessFlip, probes?: ProbeLookup): HealthObservation | undefined {
  if (flip.ready) return undefined;
  const spec = flip.pod ? probes?.(flip.pod, undefined, 'Readiness') : undefined;
  const who = flip.pod ? `pod ${flip.pod.namespace}/${flip.pod.name} (${flip.addr})` : flip.addr;
  return {
    at: flip.at,
    source: 'endpointslice',
    ok: false,
    service: flip.service,
    ...(flip.pod ? { pod: flip.pod } : {}),
    probe: 'Readiness',
    kind: 'unknown',
    detail: `${who} became not ready in ${flip.service.namespace}/${flip.service.name}'s EndpointSlice`,
    // not ready after failureThreshold failures in a row: the first of them lies that many periods back
    lookbackMs: flipLookbackMs(spec),
    timeoutMs: probeTimeoutMs(spec),
  };
}
