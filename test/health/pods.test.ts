// The lookups health sources take from the kube source's pods, and the look-back windows they size.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { flipLookbackMs, probeLookbackMs, probeLookup } from '../../src/health/pods';
import type { PodInfo, ProbeSpec } from '../../src/observe/objects';

const ready: ProbeSpec = { container: 'app', type: 'Readiness', timeoutSeconds: 2, periodSeconds: 5, failureThreshold: 4, handler: { kind: 'http', path: '/health', port: 8080, scheme: 'HTTP' } };
const live: ProbeSpec = { ...ready, container: 'sidecar', type: 'Liveness', handler: { kind: 'exec' } };
const pods: PodInfo[] = [
  { namespace: 'shop', name: 'web-0', workload: { namespace: 'shop', kind: 'Deployment', name: 'web' }, uid: 'u', nodeName: 'n', ips: ['10.1.0.5', 'fd00::5'], hostNetwork: false, probes: [ready, live] },
  { namespace: 'kube-system', name: 'proxy', workload: { namespace: 'kube-system', kind: 'Deployment', name: 'proxy' }, uid: 'v', nodeName: 'n', ips: ['192.0.2.2'], hostNetwork: true, probes: [] },
];

test('probe specs by pod, container and type', () => {
  const probes = probeLookup(() => pods);
  assert.equal(probes({ namespace: 'shop', name: 'web-0' }, 'app', 'Readiness'), ready);
  assert.equal(probes({ namespace: 'shop', name: 'web-0' }, undefined, 'Liveness'), live, 'an Event does not always name the container');
  assert.equal(probes({ namespace: 'shop', name: 'web-0' }, 'app', 'Liveness'), undefined);
  assert.equal(probes({ namespace: 'shop', name: 'web-1' }, 'app', 'Readiness'), undefined);
  assert.equal(probeLookbackMs(ready), 7000);
  assert.equal(probeLookbackMs(undefined), 11_000);
  assert.equal(flipLookbackMs(ready), 22_000);
});
