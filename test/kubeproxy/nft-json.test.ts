import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readIptablesDump, readNftDropMaps, readNftFilter, readNftTable } from '../../src/kubeproxy/dumps';
import { IptablesModelBuilder } from '../../src/kubeproxy/iptables-model';
import { JsonElements } from '../../src/kubeproxy/json-elements';
import { NftModelBuilder, mapElement, ruleVerdict } from '../../src/kubeproxy/nft-json';
import { assertModel, expected, endpointsOf } from './expect';
import { loadIptables, loadNft, needsRoot, nftJson, withNetns } from './netns';
import { renderIptables, type RenderService } from './render';
import { renderNft } from './render-nft';
import { makeServices } from './services';

test('nftables mode: the model from a real `nft -j list table ip kube-proxy`', { skip: needsRoot, timeout: 300_000 }, async () => {
  const services = makeServices(100);
  const opts = { clusterCIDR: '10.0.0.0/8', serviceCIDRs: ['172.30.0.0/16'] };
  await withNetns(async (netns) => {
    await loadNft(netns, renderNft(services, opts));
    const builder = new NftModelBuilder();
    await readNftTable('ipv4', builder, { netns });
    const m = builder.finish();
    assert.equal(m.mode, 'nftables');
    assert.deepEqual(m.problems, {});
    assertModel(m, expected(services, 'nftables', opts));
    assert.ok(m.drops.every((d) => d.packets === undefined), 'nftables mode has no counters');
    // the per-interval read of the verdict maps says the same about Services without (local) endpoints
    const cheap = await readNftDropMaps('ipv4', { netns });
    const noEndpoints = m.drops.filter((d) => d.chain.startsWith('no-endpoint-')).map((d) => d.key).sort();
    assert.deepEqual(cheap.drops.map((d) => d.key).sort(), noEndpoints);
    assert.deepEqual(cheap.problems, {});
  });
});

test('nftables mode, IPv6: table ip6 kube-proxy', { skip: needsRoot }, async () => {
  const services: RenderService[] = [
    { namespace: 'ns', name: 'web', portName: 'http', protocol: 'tcp', clusterIP: 'fd00:96::1', port: 80, endpoints: [{ ip: 'fd00:10::1', port: 8080 }, { ip: 'fd00:10::2', port: 8080 }] },
    { namespace: 'ns', name: 'gone', protocol: 'udp', clusterIP: 'fd00:96::2', port: 53, nodePort: 30053, endpoints: [] },
  ];
  await withNetns(async (netns) => {
    await loadNft(netns, renderNft(services, { family: 'ip6' }));
    const builder = new NftModelBuilder();
    await readNftTable('ipv6', builder, { netns });
    const m = builder.finish();
    assert.deepEqual(m.problems, {});
    assertModel(m, expected(services, 'nftables'));
    assert.deepEqual(endpointsOf(m, 'ns/web:http'), ['[fd00:10::1]:8080', '[fd00:10::2]:8080']);
    assert.ok(m.drops.every((d) => d.family === 'ipv6'));
  });
});

test("iptables-nft: the filter table through nft's JSON matches the full read's drop rules", { skip: needsRoot, timeout: 120_000 }, async () => {
  const rendered = renderIptables(makeServices(100), { clusterCIDR: '10.0.0.0/8', kubeletMarkDrop: true });
  await withNetns(async (netns) => {
    await loadIptables(netns, 'nft', rendered);
    const builder = new IptablesModelBuilder();
    const m = builder.finish((await readIptablesDump('nft', 'ipv4', builder, { netns })).summary);
    const reading = await readNftFilter('ipv4', m, { netns });
    assert.deepEqual(reading.problems, {});
    assert.deepEqual(reading.drops.map((d) => d.key).sort(), m.drops.map((d) => d.key).sort());
    assert.ok(reading.drops.every((d) => d.packets === 0 && d.instance), 'counters and rule handles');
    const handles = JSON.parse(await nftJson(netns, ['list', 'table', 'ip', 'filter'])).nftables.filter((e: { rule?: unknown }) => e.rule).map((e: { rule: { handle: number } }) => e.rule.handle);
    assert.equal(reading.fingerprint, handles.join(','));
    // a rule the full read has not seen yet maps by destination, or is counted
    const extra = ':KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES -d 172.31.0.1/32 -p tcp -m tcp --dport 1 -j REJECT';
    await loadIptables(netns, 'nft', rendered.replace(':KUBE-SERVICES - [0:0]', extra)); // the first is filter's
    assert.deepEqual((await readNftFilter('ipv4', m, { netns })).problems, { unmapped_drop: 1 });
  });
});

test('JsonElements: any chunking reads the same elements; cut listings and bad elements are told', () => {
  const listing = JSON.stringify({ nftables: [
    { metainfo: { version: '1.0.6' } },
    { rule: { chain: 'x', comment: 'brace } and [ and "quote" and \\ backslash', expr: [{ drop: null }] } },
    { map: { name: 'm', elem: [[{ elem: { val: { concat: ['10.0.0.1', 'tcp', 80] }, comment: 'ns/a:ü' } }, { goto: { target: 'reject-chain' } }]] } },
  ] });
  const bytes = Buffer.from(listing);
  const whole: unknown[] = [];
  const j = new JsonElements((e) => whole.push(e));
  j.write(bytes);
  assert.equal(j.end(), true);
  assert.deepEqual(whole, JSON.parse(listing).nftables);
  for (let size = 1; size <= 7; size++) {
    const got: unknown[] = [];
    const split = new JsonElements((e) => got.push(e));
    for (let i = 0; i < bytes.length; i += size) split.write(bytes.subarray(i, i + size));
    assert.equal(split.end(), true);
    assert.deepEqual(got, whole, `chunks of ${size}`);
  }
  const cut = new JsonElements(() => {});
  cut.write(listing.slice(0, listing.length - 30));
  assert.equal(cut.end(), false);
  const bad = new JsonElements(() => {});
  bad.write('{"nftables": [{"a": 1,}, [1], {"b": 2}]}');
  assert.equal(bad.end(), true);
  assert.equal(bad.bad, 1); // `[1]` is not an element object, and is not split out
});

test('map elements and verdicts in the shapes nft -j prints', () => {
  assert.deepEqual(mapElement([{ elem: { val: { concat: ['172.30.0.42', 'tcp', 80] }, comment: 'ns2/svc2:p80' } }, { goto: { target: 'reject-chain' } }]), {
    key: ['172.30.0.42', 'tcp', 80], comment: 'ns2/svc2:p80', verdict: 'goto', target: 'reject-chain',
  });
  assert.deepEqual(mapElement([{ concat: ['tcp', 30001] }, { drop: null }]), { key: ['tcp', 30001], verdict: 'drop' });
  assert.deepEqual(mapElement('172.30.0.41'), { key: ['172.30.0.41'], verdict: '' });
  assert.deepEqual(ruleVerdict([{ match: {} }, { dnat: { addr: 'fd00::1', port: 53 } }]), { verdict: '', dnat: ['[fd00::1]:53'] });
  assert.deepEqual(ruleVerdict([{ counter: { packets: 1, bytes: 2 } }, { xt: { type: 'target', name: 'REJECT' } }]), { verdict: 'reject' });
  assert.deepEqual(ruleVerdict('nonsense'), { verdict: '' });
});

test('nftables mode: a Service chain whose hash is wrong is counted', () => {
  const b = new NftModelBuilder();
  b.element({ chain: { family: 'ip', table: 'kube-proxy', name: 'service-AAAAAAAA-ns1/svc1/tcp/p80' } });
  b.element({ rule: { family: 'ip', chain: 'endpoint-BBBBBBBB-ns1/svc1/tcp/p80__10.0.0.1/80', expr: [{ dnat: { addr: '10.0.0.1', port: 80 } }] } });
  const m = b.finish();
  assert.deepEqual(m.problems, { chain_hash_mismatch: 1 });
  assert.deepEqual(endpointsOf(m, 'ns1/svc1:p80'), ['10.0.0.1:80']);
});
