// End to end in the lab, on the real kernel, for the flaps that lose no packet on the probe's path: api's /health
// resolves db's name through kube-dns (dnsmasq in two pods, glibc in api's), and fails when DNS does; web-0's
// /health computes, and answers late when its CPU quota starves it. A real daemon in the node's namespace, a fake
// API server and a fake kubelet; each scenario injects one fault and asserts the incident's verdict and words.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { eventually, kernelSkip } from '../helpers/env';
import { cpuQuotaSkip } from '../lab/cpu-quota';
import { startCluster, type Cluster } from './cluster';
import { scenario } from './scenario';

let cluster: Cluster;

describe('DNS and CPU starvation in the lab, end to end', { skip: kernelSkip, timeout: 600_000 }, () => {
  before(async () => {
    cluster = await startCluster();
    await eventually(() => cluster.probeResults.every((r) => r.length >= 2 && r.every(Boolean)), 'the probed pods to pass their probes', 20_000);
  });
  after(async () => {
    await cluster?.close();
  });

  test('the DNS source is up, on cgroup_skb', () => {
    const line = cluster.logs().find((l) => l.source === 'dns' && typeof l.up === 'boolean');
    assert.equal(line?.up, true, JSON.stringify(line));
    assert.equal(line?.reason, '');
  });

  test('(g) 90% of the queries to one kube-dns endpoint dropped on its path: dns-timeout, explained by the drop', async () => {
    const [dns0] = cluster.dnsPods;
    const found = await scenario(cluster, () => cluster.lab.dropOnPath(dns0!, 0.9, { protocol: 'udp', port: 53 }),
      (i) => i.verdict === 'dns-timeout' && /explained by the node: \d+ packets? dropped by a netfilter rule/.test(i.msg), 'a dns-timeout incident of api explained by the drop', 'api');
    const i = found.find((x) => x.verdict === 'dns-timeout')!;
    assert.deepEqual(i.downstream, ['kube-system/kube-dns']);
    assert.equal(i.evidence[0]!.kind, 'dns-timeout');
    assert.match(i.msg, /^shop\/api .*failed .*DNS quer(y|ies) from shop\/api-0 to kube-system\/kube-dns \(10\.96\.\d+\.\d+:53\) unanswered for 1 s/);
  });

  test('(h) a kube-dns server stalls: dns-timeout, no packet dropped on this node', async () => {
    const [dns0] = cluster.dnsPods;
    // the first failures' windows may still hold the drops of (g), seconds before: wait for one the stall alone explains
    const stalled = (i: { verdict: string; msg: string }) => i.verdict === 'dns-timeout' && /unanswered for 1 s.*and no packet of them dropped on this node: the DNS server did not answer/.test(i.msg);
    await scenario(cluster, async () => cluster.dns.stall([dns0!]), stalled, 'a dns-timeout incident of api with no packet dropped', 'api');
  });

  test('(i) kube-dns answers SERVFAIL: dns-error', async () => {
    const found = await scenario(cluster, () => cluster.dns.servfail(cluster.dnsPods), (i) => i.verdict === 'dns-error', 'a dns-error incident of api', 'api');
    assert.match(found.find((x) => x.verdict === 'dns-error')!.msg, /answered \d+ SERVFAIL/);
  });

  test('(j) the name api resolves is gone: dns-error (NXDOMAIN for every name of the search list)', async () => {
    // the first failures' windows may still hold the SERVFAIL answers of (i), seconds before: wait for NXDOMAIN's
    const nxdomain = (i: { verdict: string; msg: string }) => i.verdict === 'dns-error' && /answered \d+ NXDOMAIN and no name found/.test(i.msg);
    await scenario(cluster, () => cluster.dns.nxdomain(cluster.dbName), nxdomain, 'a dns-error incident of api naming NXDOMAIN', 'api');
  });

  test('(k) web-0 starved of CPU answers late: cpu-throttled, its late replies consequences, never the cause', { skip: cpuQuotaSkip }, async () => {
    const found = await scenario(cluster, () => cluster.starve!(0, 50), (i) => i.verdict === 'cpu-throttled' && i.pod === 'shop/web-0' && !i.path,
      'a cpu-throttled incident of kubelet\'s probe of web-0');
    assert.match(found.find((i) => i.verdict === 'cpu-throttled')!.msg, /pod shop\/web-0 was CPU-throttled in \d+ of \d+ periods/);
    const network = found.filter((i) => i.verdict !== 'cpu-throttled' && i.verdict !== 'none');
    assert.deepEqual(network.map((i) => i.msg), [], 'no network verdict for a starved pod: its late replies are consequences');
  });

  test('every api incident is a failure the prober saw, in plain words first', () => {
    const apis = cluster.incidents().filter((i) => i.service === 'api' && i.path === undefined);
    assert.ok(apis.length > 0);
    const phantom = apis.filter((i) => !cluster.failures.some((f) => i.pod === `shop/${f.pod}` && Math.abs(Date.parse(i.at) - f.at) <= 2500));
    assert.deepEqual(phantom, []);
  });
});
