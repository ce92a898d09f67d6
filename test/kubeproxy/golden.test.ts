// Node layouts flapwatch did not write: kube-proxy's own golden rulesets (test/fixtures/kube-proxy/), loaded into a
// namespace, read by the reader, and held against what the Go tests fed kube-proxy (golden.ts); a no-endpoints
// reject attributed to its Service from a real packet in each mode; a table or map a layout lacks is skipped and
// counted, and the rest of the model kept.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { servicePortName } from '../../src/observe/objects';
import pino from 'pino';
import { readNftFilter } from '../../src/kubeproxy/dumps';
import { ModelSink } from '../../src/kubeproxy/model';
import { KubeProxyReader } from '../../src/kubeproxy/reader';
import { RulesSource } from '../../src/kubeproxy/source';
import { kernelSkip } from '../helpers/env';
import { nsRun } from '../lab/netns';
import { lossOf, packets, pipeline, until } from '../services/pipeline';
import { assertModel, expected, type Expected } from './expect';
import {
  loadIptablesFixture, loadNftFixture, OVERALL_IPTABLES, OVERALL_NFTABLES, oldE2E, TERMINATING_NO_LOCAL, TERMINATING_NONE_USABLE,
} from './golden';
import { loadIptables, needsRoot, refuse, withNetns } from './netns';
import { renderIptables, type RenderService } from './render';

const IPTABLES_FIXTURES: [file: string, want: Expected][] = [
  ['iptables-4177b60-overall.rules', OVERALL_IPTABLES],
  ['iptables-b54abd0-endpointslice-e2e.rules', oldE2E()],
  ['iptables-b54abd0-healthcheck-nodeport-e2e.rules', oldE2E(30010)],
  ['iptables-b54abd0-terminating-no-local.rules', TERMINATING_NO_LOCAL],
  ['iptables-b54abd0-terminating-none-usable.rules', TERMINATING_NONE_USABLE],
];
const NFTABLES_FIXTURES = ['nftables-030880a-overall.nft', 'nftables-492140a-overall.nft', 'nftables-5ec89f4-overall.nft'];

/** A logger whose lines the test reads. */
function recordingLogger(): { logger: pino.Logger; lines: { msg: string }[] } {
  const lines: { msg: string }[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as { msg: string }) });
  return { logger, lines };
}

for (const [file, want] of IPTABLES_FIXTURES) {
  for (const backend of ['nft', 'legacy'] as const) {
    test(`golden ${file}, iptables-${backend}: every Service port, address, node port, endpoint and drop rule`, { skip: needsRoot, timeout: 60_000 }, async () => {
      await withNetns(async (netns) => {
        await loadIptablesFixture(netns, backend, file);
        const r = await new KubeProxyReader({ netns }).read();
        assert.deepEqual([r.detection.mode, r.detection.backend, r.detection.families], ['iptables', backend, ['ipv4']]);
        assertModel(r.model, want);
        assert.deepEqual(r.problems, {});
        assert.deepEqual(r.missing, []);
        // per interval only the filter table is read: a pre-1.24 KUBE-XLB mark for drop (nat) is in the model only
        const filterDrops = r.model.drops.filter((d) => d.table === 'filter').map((d) => d.key).sort();
        assert.deepEqual(r.drops.map((d) => d.key).sort(), filterDrops, 'the per-interval read finds the same drop rules');
      });
    });
  }
}

for (const file of NFTABLES_FIXTURES) {
  test(`golden ${file}, nftables mode: the model, on a node with no iptables filter table`, { skip: needsRoot, timeout: 60_000 }, async () => {
    await withNetns(async (netns) => {
      await loadNftFixture(netns, file);
      await assert.rejects(nsRun(netns, 'nft', ['list', 'table', 'ip', 'filter']), /No such file or directory/, 'a node in pure nftables mode');
      const r = await new KubeProxyReader({ netns }).read();
      assert.deepEqual([r.detection.mode, r.detection.families], ['nftables', ['ipv4']]);
      assertModel(r.model, OVERALL_NFTABLES);
      assert.deepEqual(r.problems, {});
      assert.deepEqual(r.missing, []);
      assert.deepEqual(r.drops.map((d) => d.key).sort(), r.model.drops.map((d) => d.key).sort());
    });
  });
}

test('nftables mode without a firewall-ips map (1.29 had none): skipped, counted by kind, logged once, the rest of the model kept', { skip: needsRoot, timeout: 60_000 }, async () => {
  // No 1.29 golden ruleset is in the store these fixtures were read from: the newest upstream one, less its
  // firewall-ips map (declaration, element and the rule that reads it), is the layout with that piece missing.
  await withNetns(async (netns) => {
    await loadNftFixture(netns, 'nftables-030880a-overall.nft', ['firewall-ips']);
    const { logger, lines } = recordingLogger();
    const source = new RulesSource({ netns, logger });
    await source.start();
    const first = await source.read();
    assert.ok(first, 'read');
    assert.equal(source.stats()[0]!.up, true, source.stats()[0]!.reason);
    assert.deepEqual(Object.fromEntries(source.missingPieces()), { map: 1 });
    const told = lines.filter((l) => /no map ip kube-proxy firewall-ips on this node/.test(l.msg));
    assert.equal(told.length, 1, 'one line for the kind, not one per read');
    // without the map, svc5's load-balancer IP reads as an external IP and its firewall drop has no destination
    const want: Expected = { services: new Map(OVERALL_NFTABLES.services), drops: OVERALL_NFTABLES.drops.map((d) => d.startsWith('firewall_drop ') ? 'firewall_drop ns5/svc5:p80 ' : d).sort() };
    want.services.set('ns5/svc5:p80', { ...want.services.get('ns5/svc5:p80')!, externalIPs: ['5.6.7.8'], loadBalancerIPs: [] });
    const r = await new KubeProxyReader({ netns }).read();
    assertModel(r.model, want);
    assert.deepEqual(r.missing, [{ kind: 'map', name: 'ip kube-proxy firewall-ips' }]);
    assert.ok(r.drops.some((d) => d.kind === 'reject_no_endpoints' && d.service === 'ns6/svc6:p80'));
  });
});

// kube-proxy's tests hold no literal large-cluster ruleset: TestEndpointCommentElision (github.com/cyclinder/kubernetes
// b54abd004af528b20f5d2458c521b9324fdca651, pkg/proxy/iptables/proxier_test.go, the v1.21–v1.23 line) builds 1001
// endpoints in loops and checks one line of the output, this one: flapwatch's renderer, fed the same inputs, must
// write it verbatim, and the reader must map the bare chain to its Service.
const ELISION_LINE = '-A KUBE-SEP-DKGQUZGBKLTPAR56 -m tcp -p tcp -j DNAT --to-destination 10.0.0.0:80';
const ELISION_INPUTS: RenderService[] = [
  // endpointChainsNumberThreshold/2-1 endpoints each, at 10.0.(i%256).(i/256) and 10.1.(i%256).(i/256), then three more
  { namespace: 'ns1', name: 'svc1', portName: 'p80', protocol: 'tcp', clusterIP: '10.20.30.41', port: 80, endpoints: [] },
  { namespace: 'ns2', name: 'svc2', portName: 'p8080', protocol: 'tcp', clusterIP: '10.20.30.42', port: 8080, endpoints: [] },
  { namespace: 'ns3', name: 'svc3', portName: 'p8081', protocol: 'tcp', clusterIP: '10.20.30.43', port: 8081,
    endpoints: ['1.2.3.4', '5.6.7.8', '9.10.11.12'].map((ip) => ({ ip, port: 8081 })) },
];
for (let i = 0; i < 1000 / 2 - 1; i++) {
  ELISION_INPUTS[0]!.endpoints.push({ ip: `10.0.${i % 256}.${Math.floor(i / 256)}`, port: 80 });
  ELISION_INPUTS[1]!.endpoints.push({ ip: `10.1.${i % 256}.${Math.floor(i / 256)}`, port: 8080 });
}

test('large cluster mode: kube-proxy\'s one literal line (TestEndpointCommentElision), written and read back', { skip: needsRoot, timeout: 60_000 }, async () => {
  const rules = renderIptables(ELISION_INPUTS);
  assert.ok(rules.split('\n').includes(ELISION_LINE), 'the renderer writes kube-proxy\'s large-cluster SEP rule verbatim');
  await withNetns(async (netns) => {
    await loadIptables(netns, 'nft', rules);
    const r = await new KubeProxyReader({ netns }).read();
    assertModel(r.model, expected(ELISION_INPUTS, 'iptables'));
    assert.deepEqual(r.problems, {});
  });
});

const V6: RenderService[] = [
  { namespace: 'ns', name: 'v6web', protocol: 'tcp', clusterIP: 'fd00:96::1', port: 80, endpoints: [{ ip: 'fd00:10::1', port: 8080 }, { ip: 'fd00:10::2', port: 8080 }] },
  { namespace: 'ns', name: 'v6gone', protocol: 'udp', clusterIP: 'fd00:96::2', port: 53, endpoints: [] },
];

for (const backend of ['nft', 'legacy'] as const) {
  test(`an IPv6-only node, iptables-${backend}: no IPv4 table read per interval, the IPv6 model whole`, { skip: needsRoot, timeout: 60_000 }, async () => {
    // no IPv6 golden ruleset is in the kube-proxy tests read: flapwatch's renderer writes kube-proxy's IPv6 form
    await withNetns(async (netns) => {
      await loadIptables(netns, backend, renderIptables(V6, { ipv6: true }), 'ipv6');
      let clock = 0;
      const reader = new KubeProxyReader({ netns, now: () => clock });
      const first = await reader.read();
      assert.deepEqual([first.detection.mode, first.detection.families], ['iptables', ['ipv6']]);
      assertModel(first.model, expected(V6, 'iptables', { ipv6: true }));
      assert.deepEqual([first.problems, first.missing], [{}, []]);
      clock += 1000;
      const second = await reader.read();
      assert.equal(second.full, false);
      assert.ok(second.drops.some((d) => d.family === 'ipv6' && d.kind === 'reject_no_endpoints' && d.service === 'ns/v6gone'));
    });
  });
}

test('a table the node does not have is a missing piece; any other failure is an error', { skip: needsRoot }, async () => {
  const model = new ModelSink().model('iptables');
  await withNetns(async (netns) => {
    const r = await readNftFilter('ipv4', model, { netns });
    assert.deepEqual([r.drops, r.missing], [[], [{ kind: 'table', name: 'ip filter' }]]);
  });
  await assert.rejects(readNftFilter('ipv4', model, { netns: 'fwkp-no-such-namespace' }), /Cannot open network namespace/);
});

// the Service without endpoints in a new and an old golden ruleset
const REJECTS: [file: string, ip: string, service: string][] = [
  ['iptables-4177b60-overall.rules', '172.30.0.46', 'ns6/svc6:p80'],
  ['iptables-b54abd0-terminating-none-usable.rules', '172.20.1.1', 'ns1/svc1'],
];

for (const [file, ip, service] of REJECTS) {
  for (const backend of ['nft', 'legacy'] as const) {
    test(`golden ${file}, iptables-${backend}: a packet to ${ip}:80 raises its reject rule, attributed to ${service}`, { skip: needsRoot, timeout: 60_000 }, async () => {
      await withNetns(async (netns) => {
        await loadIptablesFixture(netns, backend, file);
        // the jump kube-proxy adds to the built-in chain outside its restore input
        await nsRun(netns, `iptables-${backend}`, ['-A', 'OUTPUT', '-m', 'conntrack', '--ctstate', 'NEW', '-m', 'comment', '--comment', 'kubernetes service portals', '-j', 'KUBE-SERVICES']);
        const source = new RulesSource({ netns, logger: pino({ level: 'silent' }) });
        await source.start();
        await refuse(netns, ip, 80, 3);
        const r = await source.read();
        const rises = r?.rises.filter((x) => x.kind === 'reject_no_endpoints') ?? [];
        assert.equal(rises.length, 1, JSON.stringify(rises));
        assert.equal(rises[0]!.service && servicePortName(rises[0]!.service), service);
        assert.ok(rises[0]!.packets >= 3, 'a refused connect is one packet or more on the REJECT rule');
      });
    });
  }
}

test('golden TestOverallNFTablesRules (newest layout), nftables mode: a packet to svc6\'s ClusterIP is a no-endpoints drop of ns6/svc6', { skip: kernelSkip, timeout: 60_000 }, async () => {
  await withNetns(async (netns) => {
    await loadNftFixture(netns, 'nftables-5ec89f4-overall.nft');
    const p = await pipeline(netns);
    try {
      await refuse(netns, '172.30.0.46', 80, 3);
      await until(p, () => packets(lossOf(p, 'svc6', 'ns6')) >= 3, '3 rejected SYNs');
      const drops = lossOf(p, 'svc6', 'ns6');
      assert.deepEqual([...new Set(drops.map((d) => `${d.direction} ${d.mechanisms.join('+')} ${d.reasonName}`))], ['to_service no-endpoints NETFILTER_DROP']);
      assert.deepEqual(drops[0]!.origDst, { ip: '172.30.0.46', port: 80 });
      assert.deepEqual(lossOf(p, 'svc1', 'ns1'), []);
    } finally {
      await p.stop();
    }
  });
});
