// flapwatch_dns_queries_total and flapwatch_dns_latency_seconds from attributed DNS observations.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { DNS_LATENCY_BOUNDS_US } from '../../src/native';
import { dnsMetrics } from '../../src/report/metrics/dns';
import { attributedDns, KUBE_DNS } from '../fixtures/observations';

async function lines(registry: Registry, name: string): Promise<string[]> {
  return (await registry.metrics()).split('\n').filter((l) => l.startsWith(name));
}

const buckets = (at: Record<number, number>) => DNS_LATENCY_BOUNDS_US.map((_, i) => at[i] ?? 0).concat(at[DNS_LATENCY_BOUNDS_US.length] ?? 0);

test('queries_total: each query once, by how it ended, under the DNS Service (none for another server)', async () => {
  const registry = new Registry();
  dnsMetrics(registry, { labelCap: 100 }).add([
    attributedDns({ queries: 9, answers: new Map([[0, 4], [3, 2], [2, 1], [5, 1]]), late: 2, unanswered: 1 }),
    attributedDns({ clientIp: '10.77.4.3', answers: new Map([[0, 3]]) }),
    attributedDns({ server: { ip: '169.254.20.10', port: 53 }, service: null, answers: new Map([[0, 1]]) }),
  ]);
  assert.deepEqual(await lines(registry, 'flapwatch_dns_queries_total'), [
    'flapwatch_dns_queries_total{namespace="kube-system",service="kube-dns",result="answered"} 7',
    'flapwatch_dns_queries_total{namespace="kube-system",service="kube-dns",result="nxdomain"} 2',
    'flapwatch_dns_queries_total{namespace="kube-system",service="kube-dns",result="servfail"} 1',
    'flapwatch_dns_queries_total{namespace="kube-system",service="kube-dns",result="other_rcode"} 1',
    'flapwatch_dns_queries_total{namespace="kube-system",service="kube-dns",result="unanswered"} 1',
    'flapwatch_dns_queries_total{namespace="",service="",result="answered"} 1',
  ]);
});

test('latency_seconds: the kernel\'s buckets, cumulative, with their sum and count, in seconds', async () => {
  const registry = new Registry();
  const dns = dnsMetrics(registry, { labelCap: 100 });
  dns.add([attributedDns({ latency: { buckets: buckets({ 0: 1, 2: 2 }), sumSeconds: 0.0021 } })]);
  dns.add([attributedDns({ latency: { buckets: buckets({ 2: 1, [DNS_LATENCY_BOUNDS_US.length]: 1 }), sumSeconds: 6.001 } })]);
  const got = await lines(registry, 'flapwatch_dns_latency_seconds');
  const labels = 'namespace="kube-system",service="kube-dns"';
  assert.deepEqual(got.slice(0, 4), [
    `flapwatch_dns_latency_seconds_bucket{${labels},le="0.00025"} 1`,
    `flapwatch_dns_latency_seconds_bucket{${labels},le="0.0005"} 1`,
    `flapwatch_dns_latency_seconds_bucket{${labels},le="0.001"} 4`,
    `flapwatch_dns_latency_seconds_bucket{${labels},le="0.0025"} 4`,
  ]);
  assert.ok(got.includes(`flapwatch_dns_latency_seconds_bucket{${labels},le="5"} 4`));
  assert.ok(got.includes(`flapwatch_dns_latency_seconds_bucket{${labels},le="+Inf"} 5`));
  const sum = got.find((l) => l.startsWith(`flapwatch_dns_latency_seconds_sum{${labels}} `));
  assert.ok(Math.abs(Number(sum?.split(' ')[1]) - 6.0031) < 1e-9, sum);
  assert.ok(got.includes(`flapwatch_dns_latency_seconds_count{${labels}} 5`));
  assert.match((await registry.metrics()), /^# TYPE flapwatch_dns_latency_seconds histogram$/m);
});

test('past the label cap new DNS Services fold into service="other", in both metrics', async () => {
  const registry = new Registry();
  const capped: string[] = [];
  const other = { ...KUBE_DNS, name: 'other-dns' };
  dnsMetrics(registry, { labelCap: 1, onCapReached: (m) => capped.push(m) }).add([attributedDns(), attributedDns({ service: other })]);
  assert.deepEqual(await lines(registry, 'flapwatch_dns_queries_total'), [
    'flapwatch_dns_queries_total{namespace="kube-system",service="kube-dns",result="answered"} 2',
    'flapwatch_dns_queries_total{namespace="kube-system",service="other",result="answered"} 2',
  ]);
  assert.ok((await lines(registry, 'flapwatch_dns_latency_seconds_count')).some((l) => l.includes('service="other"')));
  assert.deepEqual(capped.sort(), ['flapwatch_dns_latency_seconds', 'flapwatch_dns_queries_total']);
});
