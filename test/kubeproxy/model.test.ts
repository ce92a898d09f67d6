import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readIptablesDump } from '../../src/kubeproxy/dumps';
import { endpointChain, portProtoHash } from '../../src/kubeproxy/hash';
import { IptablesModelBuilder } from '../../src/kubeproxy/iptables-model';
import { parseIptablesSave } from '../../src/kubeproxy/iptables-save';
import { indexDestinations, type RulesModel } from '../../src/kubeproxy/model';
import { assertModel, expected, endpointsOf } from './expect';
import { loadIptables, needsRoot, saveIptables, withNetns } from './netns';
import { renderIptables, type RenderOptions } from './render';
import { makeServices } from './services';

function model(text: string, family: 'ipv4' | 'ipv6' = 'ipv4'): RulesModel {
  const b = new IptablesModelBuilder();
  b.family = family;
  const { rules, summary } = parseIptablesSave(text);
  for (const r of rules) b.rule(r);
  return b.finish(summary);
}

const cases: [string, number, RenderOptions & { variety?: boolean }][] = [
  ['100 Services, comments', 100, { clusterCIDR: '10.0.0.0/8', kubeletMarkDrop: true }],
  ['100 Services, large cluster mode (no comments on SEP rules or SVC→SEP jumps)', 100, { clusterCIDR: '10.0.0.0/8', largeClusterMode: true }],
  ['100 Services, no INVALID drop (nf_conntrack_tcp_be_liberal)', 100, { conntrackLiberal: true }],
  ['10,000 Services × 2 endpoints: large cluster mode by size', 10_000, { clusterCIDR: '10.0.0.0/8', variety: false }],
];

for (const [name, n, opts] of cases) {
  test(`model from real dumps, both backends: ${name}`, { skip: needsRoot, timeout: 300_000 }, async () => {
    const services = makeServices(n, { variety: opts.variety ?? true });
    const rendered = renderIptables(services, opts);
    assert.equal(/-A KUBE-SEP-\S+ -m comment/.test(rendered), !(opts.largeClusterMode ?? n * 2 > 1000));
    for (const backend of ['nft', 'legacy'] as const) {
      await withNetns(async (netns) => {
        await loadIptables(netns, backend, rendered);
        const builder = new IptablesModelBuilder();
        const dump = await readIptablesDump(backend, 'ipv4', builder, { netns });
        const m = builder.finish(dump.summary);
        assert.deepEqual(m.problems, {}, backend);
        assertModel(m, expected(services, 'iptables', opts));
        assert.equal(dump.kubeLines, rendered.split('\n').filter((l) => l.includes('KUBE-') && !l.startsWith('*')).length);
        // the streamed read and the whole-text parse agree
        const again = model(await saveIptables(netns, backend));
        assert.deepEqual([...again.services.values()], [...m.services.values()]);
      });
    }
  });
}

const sep = (spn: string, proto: string, ep: string) => endpointChain(spn, proto, ep);

test('large cluster mode: endpoints reach their Service through the SVC chain, and its name is checked', () => {
  const svc = `KUBE-SVC-${portProtoHash('ns/a:http', 'tcp')}`;
  const [s1, s2] = [sep('ns/a:http', 'tcp', '10.1.0.1:8080'), sep('ns/a:http', 'tcp', '10.1.0.2:8080')];
  const m = model(`*nat
[0:0] -A ${s1} -p tcp -m tcp -j DNAT --to-destination 10.1.0.1:8080
[0:0] -A ${s2} -p tcp -m tcp -j DNAT --to-destination 10.1.0.2:8080
[0:0] -A KUBE-SERVICES -d 172.30.0.9/32 -p tcp -m comment --comment "ns/a:http cluster IP" -m tcp --dport 80 -j ${svc}
[0:0] -A ${svc} -m statistic --mode random --probability 0.50000000000 -j ${s1}
[0:0] -A ${svc} -j ${s2}
COMMIT
`);
  assert.deepEqual(m.problems, {});
  assert.deepEqual(endpointsOf(m, 'ns/a:http'), ['10.1.0.1:8080', '10.1.0.2:8080']);
});

test('chains no comment names: through jumps between a Service\'s chains, and by recomputed hash', () => {
  const h = portProtoHash('ns/np', 'udp');
  const local = sep('ns/np', 'udp', '10.2.0.1:53');
  const hashOnly = portProtoHash('ns/h:x', 'tcp');
  const hashSep = sep('ns/h:x', 'tcp', '10.3.0.1:80');
  const m = model(`*filter
[0:0] -A KUBE-SERVICES -d 172.30.0.7/32 -p tcp -m comment --comment "ns/h:x has no local endpoints" -m tcp --dport 80 -j DROP
COMMIT
*nat
[0:0] -A ${local} -p udp -m udp -j DNAT --to-destination 10.2.0.1:53
[0:0] -A ${hashSep} -p tcp -m tcp -j DNAT --to-destination 10.3.0.1:80
[0:0] -A KUBE-EXT-${h} -j KUBE-SVL-${h}
[0:0] -A KUBE-NODEPORTS -p udp -m comment --comment ns/np -m udp --dport 31000 -j KUBE-EXT-${h}
[0:0] -A KUBE-SVL-${h} -j ${local}
[0:0] -A KUBE-SVL-${hashOnly} -j ${hashSep}
COMMIT
`);
  assert.deepEqual(m.problems, {});
  assert.deepEqual(m.services.get('ns/np'), { namespace: 'ns', name: 'np', portName: '', protocol: 'udp', clusterIPs: [], externalIPs: [], loadBalancerIPs: [], endpoints: [{ ip: '10.2.0.1', port: 53 }], nodePort: 31000 });
  assert.deepEqual(endpointsOf(m, 'ns/h:x'), ['10.3.0.1:80']);
});

test('what does not add up is counted: a SEP name that is not its hash, stale and missing chains', () => {
  const svc = `KUBE-SVC-${portProtoHash('ns/a', 'tcp')}`;
  const wrong = sep('ns/other', 'tcp', '10.1.0.1:80');
  const m = model(`*nat
[0:0] -A ${wrong} -p tcp -m tcp -j DNAT --to-destination 10.1.0.1:80
[0:0] -A KUBE-SEP-STALESTALESTALE -p tcp -m tcp -j DNAT --to-destination 10.9.9.9:80
[0:0] -A KUBE-SERVICES -d 172.30.0.1/32 -p tcp -m comment --comment "ns/a cluster IP" -m tcp --dport 80 -j ${svc}
[0:0] -A ${svc} -m statistic --mode random --probability 0.50000000000 -j ${wrong}
[0:0] -A ${svc} -j KUBE-SEP-MISSINGMISSINGMI
[0:0] -A KUBE-SVC-NOBODYKNOWSTHIS -j KUBE-SEP-STALESTALESTALE
COMMIT
`);
  assert.deepEqual(m.problems, { endpoint_hash_mismatch: 1, missing_endpoint_chain: 1, unmapped_endpoint: 1, stale_chain: 1 });
  assert.deepEqual(endpointsOf(m, 'ns/a'), ['10.1.0.1:80']);
  assert.match(m.examples.endpoint_hash_mismatch!, /is not ns\/a tcp 10.1.0.1:80/);
});

test('drops of every release: pre-1.24 KUBE-XLB, kubelet marks, nfacct; others are counted, not guessed', () => {
  const m = model(`*filter
[4:240] -A KUBE-FORWARD -m conntrack --ctstate INVALID -m nfacct --nfacct-name ct_state_invalid_dropped_pkts -j DROP
[2:100] -A KUBE-FIREWALL -m comment --comment "kubernetes firewall for dropping marked packets" -m mark --mark 0x8000/0x8000 -j DROP
[0:0] -A KUBE-IPVS-FILTER -m set --match-set KUBE-LOAD-BALANCER dst,dst -j REJECT
[0:0] -A DOCKER-ISOLATION -i docker0 -j DROP
COMMIT
*nat
[3:180] -A KUBE-XLB-QKNQQNIN727HO3XU -m comment --comment "default/test-svc has no local endpoints" -j KUBE-MARK-DROP
[9:540] -A KUBE-MARK-DROP -j MARK --set-xmark 0x8000/0x8000
COMMIT
`);
  assert.deepEqual(m.drops.map((d) => [d.kind, d.service, d.packets, d.chain]), [
    ['drop_invalid', undefined, 4, 'KUBE-FORWARD'],
    ['drop_marked', undefined, 2, 'KUBE-FIREWALL'],
    ['drop_no_local_endpoints', 'default/test-svc', 3, 'KUBE-XLB-QKNQQNIN727HO3XU'],
  ]);
  assert.deepEqual(m.problems, { unclassified_drop: 1, foreign_rule: 1 });
});

test('IPv6: bracketed endpoints and destinations, /128 dropped, SEP hash over [IP]:port', () => {
  const svc = `KUBE-SVC-${portProtoHash('ns/v6:dns', 'udp')}`;
  const s = sep('ns/v6:dns', 'udp', '[fd00:10::5]:53');
  const m = model(`*nat
[0:0] -A ${s} -p udp -m udp -j DNAT --to-destination [fd00:10::5]:53
[0:0] -A KUBE-SERVICES -d fd00:96::a/128 -p udp -m comment --comment "ns/v6:dns cluster IP" -m udp --dport 53 -j ${svc}
[0:0] -A ${svc} -j ${s}
COMMIT
*filter
[1:80] -A KUBE-SERVICES -d fd00:96::b/128 -p tcp -m comment --comment "ns/v6b has no endpoints" -m tcp --dport 443 -j REJECT --reject-with icmp6-port-unreachable
COMMIT
`, 'ipv6');
  assert.deepEqual(m.problems, {});
  assert.deepEqual(endpointsOf(m, 'ns/v6:dns'), ['[fd00:10::5]:53']);
  assert.deepEqual(m.services.get('ns/v6:dns')?.clusterIPs, ['fd00:96::a']);
  assert.equal(m.drops[0]?.key, 'ipv6 reject_no_endpoints ns/v6b filter KUBE-SERVICES [fd00:96::b]:443/tcp'.replace(' filter', ''));
  assert.deepEqual([...indexDestinations(m)].sort(), [['[fd00:96::a]:53/udp', 'ns/v6:dns'], ['[fd00:96::b]:443/tcp', 'ns/v6b']]);
});

test("the parser's problems end up in the model's", () => {
  const b = new IptablesModelBuilder();
  const { rules, summary } = parseIptablesSave('*filter\n[0:0] -A X -m fancy -j ACCEPT\n');
  for (const r of rules) b.rule(r);
  const m = b.finish(summary);
  assert.deepEqual(m.problems, { unknown_match: 1, truncated: 1, foreign_rule: 1 });
  assert.equal(m.examples.truncated, '*filter has no COMMIT');
});
