import assert from 'node:assert/strict';
import { test } from 'node:test';
import { destination } from '../../src/kubeproxy/model';
import { KubeProxyReader } from '../../src/kubeproxy/reader';
import { RuleRises } from '../../src/kubeproxy/rises';
import { servicePortName as portName } from '../../src/observe/objects';
import { nsRun } from '../lab/netns';
import { loadIptables, loadNft, needsRoot, refuse, withNetns } from './netns';
import { renderIptables, servicePortName, type RenderService } from './render';
import { renderNft } from './render-nft';
import { makeServices } from './services';

const V6: RenderService[] = [
  { namespace: 'ns', name: 'v6web', protocol: 'tcp', clusterIP: 'fd00:96::1', port: 80, endpoints: [{ ip: 'fd00:10::1', port: 8080 }] },
  { namespace: 'ns', name: 'v6gone', protocol: 'udp', clusterIP: 'fd00:96::2', port: 53, endpoints: [] },
];

for (const backend of ['nft', 'legacy'] as const) {
  test(`reader, iptables ${backend} backend: detection, counters per interval, a change brings a full read`, { skip: needsRoot, timeout: 120_000 }, async () => {
    await withNetns(async (netns) => {
      const services = makeServices(60);
      await loadIptables(netns, backend, renderIptables(services, { clusterCIDR: '10.0.0.0/8' }));
      await loadIptables(netns, backend, renderIptables(V6, { ipv6: true }), 'ipv6');
      let clock = 0;
      const reader = new KubeProxyReader({ netns, now: () => clock });
      const first = await reader.read();
      assert.equal(first.full, true);
      assert.deepEqual({ ...first.detection, message: '' }, {
        mode: 'iptables', backend, counts: { nft: backend === 'nft' ? first.detection.counts!.nft : 0, legacy: backend === 'legacy' ? first.detection.counts!.legacy : 0 },
        families: ['ipv4', 'ipv6'], message: '',
      });
      assert.ok(first.detection.counts![backend] > 500);
      assert.match(first.detection.message, new RegExp(`iptables mode, ${backend} backend \\(KUBE- lines: \\d+ with iptables-nft, \\d+ with iptables-legacy\\)`));
      assert.deepEqual(first.problems, {});
      assert.equal(first.model.services.size, services.length + V6.length);
      assert.deepEqual(first.drops.map((d) => d.key).sort(), first.model.drops.filter((d) => d.table === 'filter').map((d) => d.key).sort());
      assert.ok(first.drops.some((d) => d.family === 'ipv6' && d.service === 'ns/v6gone'));

      const rises = new RuleRises();
      rises.update(first.drops);
      const gone = services.find((s) => s.endpoints.length === 0 && s.protocol === 'tcp')!;
      await refuse(netns, gone.clusterIP, gone.port, 3);
      clock += 1000;
      const second = await reader.read();
      assert.equal(second.full, false);
      const hit = second.drops.find((d) => d.kind === 'reject_no_endpoints' && d.destination === destination(gone.clusterIP, gone.port, 'tcp'))!;
      assert.equal(hit.service, servicePortName(gone));
      const before = first.drops.find((d) => d.key === hit.key)!.packets!;
      const rose = rises.update(second.drops);
      assert.ok(hit.packets! >= before + 3, 'a refused connect is one packet or more (a SYN retry) on the REJECT rule');
      assert.deepEqual(rose.map((r) => [r.kind, r.chain, r.service && portName(r.service), r.packets]), [['reject_no_endpoints', hit.chain, hit.service, hit.packets! - before]]);

      // kube-proxy syncs: a Service lost its endpoints
      const tool = `iptables-${backend}`;
      await nsRun(netns, tool, ['-A', 'KUBE-SERVICES', '-d', '172.30.9.9', '-p', 'tcp', '-m', 'comment', '--comment', 'ns/late has no endpoints', '-m', 'tcp', '--dport', '8080', '-j', 'REJECT']);
      clock += 1000;
      const third = await reader.read();
      assert.equal(third.full, false, 'a change waits for the minimum interval');
      assert.deepEqual(third.problems, backend === 'nft' ? { unmapped_drop: 1 } : {});
      clock += 60_000;
      const fourth = await reader.read();
      assert.equal(fourth.full, true);
      assert.ok(fourth.drops.some((d) => d.service === 'ns/late'));
      const [a, b] = await Promise.all([reader.read(), reader.read()]);
      assert.equal(a, b, 'concurrent callers share one read');
    });
  });
}

test('reader: both backends hold KUBE- rules: the larger wins, both counts reported', { skip: needsRoot, timeout: 60_000 }, async () => {
  await withNetns(async (netns) => {
    await loadIptables(netns, 'nft', renderIptables(makeServices(5)));
    await loadIptables(netns, 'legacy', renderIptables(makeServices(30)));
    const { detection, model, problems } = await new KubeProxyReader({ netns }).read();
    assert.equal(detection.backend, 'legacy');
    assert.ok(detection.counts!.nft > 0 && detection.counts!.legacy > detection.counts!.nft);
    assert.match(detection.message, /both backends hold kube-proxy rules, reading the larger/);
    assert.equal(model.services.size, 30);
    assert.deepEqual(problems, {});
  });
});

test('reader, nftables mode: the table and its verdict maps, no counters; a change brings a full read', { skip: needsRoot, timeout: 60_000 }, async () => {
  await withNetns(async (netns) => {
    const services = makeServices(20);
    await loadNft(netns, renderNft(services, { serviceCIDRs: ['172.30.0.0/16'] }));
    let clock = 0;
    const reader = new KubeProxyReader({ netns, now: () => clock });
    const first = await reader.read();
    assert.equal(first.detection.mode, 'nftables');
    assert.deepEqual(first.detection.families, ['ipv4']);
    assert.equal(first.model.services.size, 20);
    assert.deepEqual(first.drops.map((d) => d.key).sort(), first.model.drops.map((d) => d.key).sort());
    assert.ok(first.drops.every((d) => d.packets === undefined));
    await nsRun(netns, 'nft', ['add element ip kube-proxy no-endpoint-services { 172.30.9.9 . tcp . 80 comment "ns/late" : goto reject-chain }']);
    clock += 60_000;
    const second = await reader.read();
    assert.equal(second.full, true);
    assert.ok(second.drops.some((d) => d.service === 'ns/late' && d.kind === 'reject_no_endpoints'));
  });
});

test('reader: IPVS mode is detected and said not to be covered', { skip: needsRoot }, async () => {
  await withNetns(async (netns) => {
    await nsRun(netns, 'ip', ['link', 'add', 'kube-ipvs0', 'type', 'veth', 'peer', 'name', 'kipvs1']);
    const r = await new KubeProxyReader({ netns }).read();
    assert.equal(r.detection.mode, 'ipvs');
    assert.match(r.detection.message, /IPVS mode, which flapwatch does not cover/);
    assert.deepEqual([r.model.services.size, r.drops.length], [0, 0]);
  });
  await withNetns(async (netns) => {
    await loadIptables(netns, 'nft', '*filter\n:KUBE-IPVS-FILTER - [0:0]\n-A KUBE-IPVS-FILTER -j RETURN\nCOMMIT\n');
    assert.equal((await new KubeProxyReader({ netns }).read()).detection.mode, 'ipvs');
  });
});

test('reader: a node without kube-proxy rules says so', { skip: needsRoot }, async () => {
  await withNetns(async (netns) => {
    const r = await new KubeProxyReader({ netns }).read();
    assert.equal(r.detection.mode, 'none');
    assert.deepEqual(r.detection.counts, { nft: 0, legacy: 0 });
    assert.match(r.detection.message, /no kube-proxy rules found/);
    assert.deepEqual(r.drops, []);
  });
});
