// Unhealthy Event messages as kubelet writes them (pkg/kubelet/prober/prober.go and pkg/probe/*), their
// conversion, and EndpointSlice readiness flips.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classifyProbeMessage, fromReadinessFlip, fromUnhealthyEvent } from '../../src/health/events';
import type { UnhealthyEvent } from '../../src/kube/types';
import type { ProbeSpec } from '../../src/observe/objects';

// [message, kind, status?] — each one a message kubelet really emits
const MESSAGES: Array<[string, string, number?]> = [
  ['Readiness probe failed: HTTP probe failed with statuscode: 503', 'http-status', 503],
  ['Liveness probe failed: HTTP probe failed with statuscode: 500', 'http-status', 500],
  ['Readiness probe failed: Get "http://10.244.1.7:8080/health": context deadline exceeded (Client.Timeout exceeded while awaiting headers)', 'timeout'],
  ['Readiness probe failed: Get "http://10.244.1.7:8080/health": net/http: request canceled while waiting for connection (Client.Timeout exceeded while awaiting headers)', 'timeout'],
  ['Liveness probe failed: dial tcp 10.244.1.7:5432: i/o timeout', 'timeout'],
  ['Readiness probe failed: Get "http://10.244.1.7:8080/health": dial tcp 10.244.1.7:8080: connect: connection refused', 'refused'],
  ['Liveness probe failed: dial tcp 10.244.1.7:6379: connect: connection refused', 'refused'],
  ['Readiness probe failed: Get "http://10.244.1.7:8080/health": read tcp 10.244.1.1:48332->10.244.1.7:8080: read: connection reset by peer', 'reset'],
  ['Readiness probe failed: Get "http://10.244.1.7:8080/health": EOF', 'reset'],
  ['Liveness probe failed: timeout: failed to connect service "10.244.1.7:9090" within 1s: context deadline exceeded', 'timeout'],
  ['Liveness probe failed: service unhealthy (responded with "NOT_SERVING")', 'unknown'],
  ['Liveness probe errored: rpc error: code = Unknown desc = failed to exec in container: container is in CONTAINER_EXITED state', 'exec'],
  ['Readiness probe failed: OCI runtime exec failed: exec failed: unable to start container process: exec: "pg_isready": executable file not found in $PATH: unknown', 'exec'],
  ['Liveness probe failed: command "/bin/sh -c /ready.sh" timed out', 'timeout'],
  ['Startup probe failed: Get "http://10.244.1.7:8080/started": dial tcp 10.244.1.7:8080: connect: no route to host', 'unknown'],
  ['(combined from similar events): Readiness probe failed: HTTP probe failed with statuscode: 502', 'http-status', 502],
];

test('kubelet\'s messages classify by how the probe failed, keeping the type and the detail', () => {
  for (const [message, kind, status] of MESSAGES) {
    const r = classifyProbeMessage(message);
    assert.equal(r.kind, kind, message);
    assert.equal(r.status, status, message);
    assert.ok(r.type && message.includes(`${r.type} probe`), message);
    assert.ok(message.endsWith(r.detail) && r.detail.length > 0 && !r.detail.includes(' probe failed: '), r.detail);
  }
  assert.equal(classifyProbeMessage('Readiness probe errored: rpc error: code = DeadlineExceeded desc = context deadline exceeded').outcome, 'errored');
  const other = classifyProbeMessage('Back-off restarting failed container');
  assert.deepEqual(other, { outcome: 'unknown', kind: 'unknown', detail: 'Back-off restarting failed container' });
});

test('an exec probe\'s output is whatever the command printed: only the spec calls it exec', () => {
  const msg = 'Liveness probe failed: cat: /tmp/healthy: No such file or directory\n';
  assert.equal(classifyProbeMessage(msg).kind, 'unknown');
  const r = classifyProbeMessage(msg, 'exec');
  assert.equal(r.kind, 'exec');
  assert.equal(r.detail, 'cat: /tmp/healthy: No such file or directory');
});

const EXEC_PROBE: ProbeSpec = { container: 'db', type: 'Liveness', timeoutSeconds: 3, periodSeconds: 20, failureThreshold: 3, handler: { kind: 'exec' } };

test('an Event update becomes one observation with what it added; warnings are not failures', () => {
  const probes = (_pod: unknown, _c: string | undefined, type: string) => (type === 'Liveness' ? EXEC_PROBE : undefined);
  const pod = { namespace: 'shop', name: 'web-1' };
  const ev = (over: Partial<UnhealthyEvent>): UnhealthyEvent => ({
    pod, uid: 'e1', message: 'Readiness probe failed: HTTP probe failed with statuscode: 503', count: 1, at: 10, ...over,
  });
  assert.deepEqual(fromUnhealthyEvent(ev({}), probes), {
    at: 10, source: 'event', ok: false, pod, probe: 'Readiness', kind: 'http-status', status: 503,
    detail: 'HTTP probe failed with statuscode: 503', lookbackMs: 11_000, timeoutMs: 1000, count: 1,
  });
  assert.equal(fromUnhealthyEvent(ev({ count: 3 }))?.count, 3);
  assert.equal(fromUnhealthyEvent(ev({ count: 0 })), undefined, 'an update that added nothing');

  const exec = fromUnhealthyEvent(ev({ container: 'db', message: 'Liveness probe failed: FATAL: the database system is starting up' }), probes);
  assert.equal(exec?.kind, 'exec', 'the spec says exec');
  assert.equal(exec?.container, 'db');
  assert.equal(exec?.detail, 'FATAL: the database system is starting up');
  assert.equal(exec?.lookbackMs, 23_000);
  assert.equal(fromUnhealthyEvent(ev({ message: 'Readiness probe warning: Probe terminated redirects, Response body: ' })), undefined);
  assert.equal(fromUnhealthyEvent(ev({ message: 'something else entirely' }))?.probe, 'unknown');
});

test('an EndpointSlice flip to not ready is a failure; back to ready is not', () => {
  const service = { namespace: 'shop', name: 'web' };
  const pod = { namespace: 'shop', name: 'web-1' };
  const o = fromReadinessFlip({ service, pod, addr: '10.244.1.7', ready: false, at: 5 });
  assert.deepEqual(o, {
    at: 5, source: 'endpointslice', ok: false, service, pod, probe: 'Readiness',
    kind: 'unknown', detail: 'pod shop/web-1 (10.244.1.7) became not ready in shop/web\'s EndpointSlice',
    lookbackMs: 31_000, // kubelet's defaults: 3 failures 10 s apart, the first with its 1 s timeout
    timeoutMs: 1000,
  });
  const spec = { ...EXEC_PROBE, type: 'Readiness' as const, periodSeconds: 5, failureThreshold: 2, timeoutSeconds: 1 };
  assert.equal(fromReadinessFlip({ service, pod, addr: '10.244.1.7', ready: false, at: 5 }, () => spec)?.lookbackMs, 11_000);
  assert.equal(fromReadinessFlip({ service, pod, addr: '10.244.1.7', ready: true, at: 6 }), undefined);
  assert.match(fromReadinessFlip({ service, addr: '10.244.1.8', ready: false, at: 7 })?.detail ?? '', /^10\.244\.1\.8 became not ready/);
});
