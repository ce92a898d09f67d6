// Cross-node judgement without a network: the peers' answers are given, the judge decides on them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Correlator } from '../../src/correlate/correlator';
import type { EvidenceItem } from '../../src/correlate/evidence';
import type { Incident } from '../../src/correlate/incident';
import type { AskPeers, PeerAsk, PeerReply } from '../../src/correlate/remote';
import type { NodeInterval } from '../../src/node/interval';
import type { HealthObservation } from '../../src/observe/health';
import type { ServicePort } from '../../src/observe/objects';
import { incidentMessage } from '../../src/report/incident-text';
import { ServiceIndex } from '../../src/services/index';
import { attributedRetransmit } from '../fixtures/observations';
import { podLookup } from '../helpers/pods';

const WEB_POD = '10.244.1.10';
const DB_POD = '10.244.2.20';
const WEB: ServicePort = { namespace: 'shop', name: 'web', portName: 'http', protocol: 'tcp', port: 80, clusterIPs: ['10.96.0.10'], externalIPs: [], loadBalancerIPs: [], endpoints: [{ ip: WEB_POD, port: 8080, nodeName: 'node-a' }] };
const DB: ServicePort = { namespace: 'shop', name: 'db', portName: 'pg', protocol: 'tcp', port: 5432, clusterIPs: ['10.96.0.20'], externalIPs: [], loadBalancerIPs: [], endpoints: [{ ip: DB_POD, port: 5432, nodeName: 'node-b', pod: { namespace: 'shop', name: 'db-1' } }] };

const interval = (start: number, over: Partial<NodeInterval> = {}): NodeInterval => ({ start, end: start + 1000, drops: [], retransmits: [], connections: [], rules: [], diedUnreplied: [], ...over });
const failure: HealthObservation = { at: 5_500, source: 'event', ok: false, pod: { namespace: 'shop', name: 'web-1' }, probe: 'Readiness', kind: 'timeout', detail: 'context deadline exceeded', lookbackMs: 3000 };
/** web's pod calls db through its ClusterIP; its SYNs go unanswered */
const synToDb = attributedRetransmit({ tuple: { family: 4, proto: 6, saddr: WEB_POD, daddr: '10.96.0.20', sport: 40000, dport: 5432 }, service: DB, direction: 'to_service', packets: 3 });
const overflow: EvidenceItem = { kind: 'listen-overflow', service: 'shop/db', direction: 'to_service', mechanisms: [], reason: '', location: '', detail: 'pod shop/db-1: 4 ListenOverflows, 4 ListenDrops', saddr: '', daddr: '', dst: '', addrs: [DB_POD], count: 4 };

async function judged(reply: (q: PeerAsk) => PeerReply): Promise<{ incident: Incident; asked: PeerAsk[][] }> {
  const index = new ServiceIndex();
  index.publish('kubernetes', [WEB, DB]);
  const asked: PeerAsk[][] = [];
  const askPeers: AskPeers = async (asks) => {
    asked.push(asks);
    return asks.map(reply);
  };
  const c = new Correlator({
    index, pods: podLookup([{ namespace: 'shop', name: 'web-1', workload: { namespace: 'shop', kind: 'Deployment', name: 'web' }, uid: 'u', nodeName: 'node-a', ips: [WEB_POD], hostNetwork: false, probes: [] }]),
    slackMs: 500, maxWaitMs: 5000, historyMs: 120_000, maxItemsPerInterval: 1000, maxIncidents: 100, now: () => 10_000,
    onError: (err) => assert.fail(String(err)), node: 'node-a', askPeers,
  });
  const incidents: Incident[] = [];
  c.onIncident((list) => incidents.push(...list));
  c.addInterval(interval(4000, { retransmits: [synToDb] }));
  c.addInterval(interval(5000));
  c.addInterval(interval(6000));
  c.addHealth([failure]);
  await new Promise((r) => setImmediate(r));
  assert.equal(incidents.length, 1);
  return { incident: incidents[0]!, asked };
}

test('unanswered SYNs toward a pod on node-b: node-b is asked about that pod, and its full accept queue decides', async () => {
  const { incident, asked } = await judged((q) => ({ node: q.node, answered: true, complete: true, items: [overflow] }));
  assert.deepEqual(asked, [[{ node: 'node-b', addrs: [DB_POD] }]]);
  assert.equal(incident.verdict, 'listen-overflow');
  assert.equal(incident.node, 'node-b');
  assert.deepEqual(incident.downstream, ['shop/db']);
  assert.match(incidentMessage(incident), /SYNs lost to a full accept queue: pod shop\/db-1: 4 ListenOverflows.* on node-b/);
});

test('a drop on the way in on node-b: netfilter-drop on node-b', async () => {
  const drop: EvidenceItem = { ...overflow, kind: 'drop', mechanisms: ['netfilter-drop'], reason: 'NETFILTER_DROP', location: 'nft_do_chain', detail: 'filter/FORWARD', saddr: WEB_POD, daddr: DB_POD, dst: '10.96.0.20:5432', addrs: [], count: 3 };
  const { incident } = await judged((q) => ({ node: q.node, answered: true, complete: true, items: [drop] }));
  assert.equal(incident.verdict, 'netfilter-drop');
  assert.equal(incident.node, 'node-b');
  assert.match(incidentMessage(incident), /dropped by a netfilter rule .* on node-b/);
});

test('every node asked saw nothing: loss outside the nodes, the network between them', async () => {
  const { incident } = await judged((q) => ({ node: q.node, answered: true, complete: true, items: [] }));
  assert.equal(incident.verdict, 'retransmits');
  assert.equal(incident.between, true);
  assert.equal(incident.node, 'node-a', "the verdict rests on this node's retransmissions");
  assert.match(incidentMessage(incident), /no drop on any node asked \(node-b\): loss outside the nodes \(the network between them\)/);
});

test('a node that does not answer: the local verdict, and the message says so', async () => {
  const { incident } = await judged((q) => ({ node: q.node, answered: false, complete: false, items: [], error: 'timeout' }));
  assert.equal(incident.verdict, 'retransmits');
  assert.equal(incident.between, undefined);
  assert.deepEqual(incident.peers, { asked: ['node-b'], unanswered: ['node-b'] });
  assert.match(incidentMessage(incident), /loss beyond this node .*; node-b did not answer; the cascade's root: shop\/db/);
});
