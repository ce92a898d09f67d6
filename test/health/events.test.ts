// Unhealthy Event messages as kubelet writes them (pkg/kubelet/prober/prober.go and pkg/probe/*), their
// conversion with Event count deltas, and EndpointSlice readiness flips.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classifyProbeMessage, fromReadinessFlip, UnhealthyEvents, type UnhealthyEvent } from '../../src/health/events';
import type { ProbeSpec } from '../../src/observe/types';

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

test('Event counts become deltas; the initial list primes; warnings are not failures', () => {
  const t0 = Date.now();
  const events = new UnhealthyEvents({ since: t0, probes: (_pod, _c, type) => (type === 'Liveness' ? EXEC_PROBE : undefined) });
  const pod = { namespace: 'shop', name: 'web-1' };
  const ev = (over: Partial<UnhealthyEvent>): UnhealthyEvent => ({
    pod, uid: 'e1', message: 'Readiness probe failed: HTTP probe failed with statuscode: 503', count: 1, at: t0 + 10, ...over,
  });
  assert.equal(events.convert(ev({ uid: 'old', count: 40, at: t0 - 60_000 })), undefined, 'listed at start: history');
  assert.deepEqual(events.convert(ev({ uid: 'old', count: 41, at: t0 + 5 }))?.count, 1, 'then its next occurrence counts');

  const first = events.convert(ev({}));
  assert.deepEqual(first, {
    at: t0 + 10, source: 'event', ok: false, pod, probe: 'Readiness', kind: 'http-status', status: 503,
    detail: 'HTTP probe failed with statuscode: 503', lookbackMs: 11_000, count: 1,
  });
  assert.equal(events.convert(ev({ count: 1 })), undefined, 'a re-delivered update adds nothing');
  assert.equal(events.convert(ev({ count: 4, at: t0 + 30_000 }))?.count, 3);
  assert.equal(events.convert(ev({ count: 2 })), undefined, 'a count never goes back');

  const exec = events.convert(ev({ uid: 'e2', container: 'db', message: 'Liveness probe failed: FATAL: the database system is starting up' }));
  assert.equal(exec?.kind, 'exec', 'the spec says exec');
  assert.equal(exec?.container, 'db');
  assert.equal(exec?.lookbackMs, 23_000);
  assert.equal(events.convert(ev({ uid: 'e3', message: 'Readiness probe warning: Probe terminated redirects, Response body: ' })), undefined);
});

test('remembered Events are bounded: the oldest are forgotten first', () => {
  const events = new UnhealthyEvents({ since: 0, maxTracked: 2 });
  const ev = (uid: string, count: number): UnhealthyEvent => ({ pod: { namespace: 'a', name: 'b' }, uid, message: 'Readiness probe failed: x', count, at: 1 });
  events.convert(ev('a', 1));
  events.convert(ev('b', 1));
  events.convert(ev('a', 2)); // a is now the newest
  events.convert(ev('c', 1)); // b goes
  assert.equal(events.convert(ev('a', 2)), undefined, 'a is still known');
  assert.equal(events.convert(ev('b', 1))?.count, 1, 'b was forgotten: seen anew');
});

test('an EndpointSlice flip to not ready is a failure; back to ready is not', () => {
  const service = { namespace: 'shop', name: 'web' };
  const pod = { namespace: 'shop', name: 'web-1' };
  const o = fromReadinessFlip({ service, pod, addr: '10.244.1.7', port: 8080, ready: false, at: 5 });
  assert.deepEqual(o, {
    at: 5, source: 'endpointslice', ok: false, service, pod, probe: 'Readiness', target: { addr: '10.244.1.7', port: 8080 },
    kind: 'unknown', detail: 'pod shop/web-1 (10.244.1.7) became not ready in shop/web\'s EndpointSlice',
    lookbackMs: 31_000, // kubelet's defaults: 3 failures 10 s apart, the first with its 1 s timeout
  });
  const spec = { ...EXEC_PROBE, type: 'Readiness' as const, periodSeconds: 5, failureThreshold: 2, timeoutSeconds: 1 };
  assert.equal(fromReadinessFlip({ service, pod, addr: '10.244.1.7', ready: false, at: 5 }, () => spec)?.lookbackMs, 11_000);
  assert.equal(fromReadinessFlip({ service, pod, addr: '10.244.1.7', ready: true, at: 6 }), undefined);
  assert.equal(fromReadinessFlip({ service, addr: '10.244.1.8', ready: false, at: 7 })?.target, undefined);
});
