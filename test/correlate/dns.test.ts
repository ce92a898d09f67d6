// DNS on a failure's paths, through the correlator on hand-made intervals: dns-timeout (and the drops that explain
// it), dns-error (SERVFAIL; NXDOMAIN only when no name was found), the order against the network's verdicts, the
// pods of a dependency, and the wait for a query still in flight at the window's end.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Correlator } from '../../src/correlate/correlator';
import type { Incident } from '../../src/correlate/incident';
import type { NodeInterval } from '../../src/node/interval';
import type { HealthObservation } from '../../src/observe/health';
import type { PodInfo, ServicePort } from '../../src/observe/objects';
import { incidentMessage } from '../../src/report/incident-text';
import { ServiceIndex } from '../../src/services/index';
import { attributedDns, attributedDrop, KUBE_DNS } from '../fixtures/observations';
import { podLookup } from '../helpers/pods';

const API_POD = '10.77.1.10';
const DB_POD = '10.77.1.20';
const API: ServicePort = { namespace: 'shop', name: 'api', portName: 'http', protocol: 'tcp', port: 80, clusterIPs: ['10.96.0.30'], externalIPs: [], loadBalancerIPs: [], endpoints: [{ ip: API_POD, port: 8080, pod: { namespace: 'shop', name: 'api-0' } }] };
const DB: ServicePort = { namespace: 'shop', name: 'db', portName: 'http', protocol: 'tcp', port: 80, clusterIPs: ['10.96.0.20'], externalIPs: [], loadBalancerIPs: [], endpoints: [{ ip: DB_POD, port: 8080, pod: { namespace: 'shop', name: 'db-0' } }] };
const PODS: PodInfo[] = [{ namespace: 'shop', name: 'api-0', workload: { namespace: 'shop', kind: 'Deployment', name: 'api' }, uid: 'u1', nodeName: 'n1', ips: [API_POD], hostNetwork: false, probes: [] }];
const DNAT = { present: true, confirmed: false, dnat: true, snat: false, reply: false };

function setup() {
  const index = new ServiceIndex();
  index.publish('kubernetes', [API, DB, KUBE_DNS]);
  const c = new Correlator({
    index, pods: podLookup(PODS), slackMs: 500, maxWaitMs: 5000, historyMs: 120_000, maxItemsPerInterval: 1000, maxIncidents: 100,
    now: () => 10_000, onError: (err) => assert.fail(String(err)),
  });
  const incidents: Incident[] = [];
  c.onIncident((list) => incidents.push(...list));
  return { c, incidents };
}

const interval = (start: number, over: Partial<NodeInterval> = {}): NodeInterval => ({ start, end: start + 1000, drops: [], retransmits: [], connections: [], rules: [], diedUnreplied: [], dns: [], ...over });

/** api-0's /health resolved a name and answered 503 at 5500: window (2500, 6000]. */
function failure(over: Partial<HealthObservation> = {}): HealthObservation {
  return {
    at: 5_500, source: 'event', ok: false, pod: { namespace: 'shop', name: 'api-0' }, service: { namespace: 'shop', name: 'api' }, probe: 'Readiness', kind: 'http-status', status: 503,
    detail: 'HTTP probe failed with statuscode: 503', lookbackMs: 3000, ...over,
  };
}

/** Intervals 0..8000, with `at` holding what a given interval's start says; then the failure. */
function judged(at: Record<number, Partial<NodeInterval>>, f: HealthObservation = failure()): Incident {
  const { c, incidents } = setup();
  for (let t = 0; t < 8000; t += 1000) c.addInterval(interval(t, at[t]));
  c.addHealth([f]);
  assert.equal(incidents.length, 1);
  return incidents[0]!;
}

const late = attributedDns({ clientIp: API_POD, queries: 0, late: 2, answers: new Map() });

test('queries unanswered for a second: dns-timeout, downstream to kube-dns, even behind an HTTP answer', () => {
  // sent in (4000, 5000], counted late by the sweep that ends (5000, 6000]
  const i = judged({ 5000: { dns: [late] } });
  assert.equal(i.verdict, 'dns-timeout');
  assert.deepEqual(i.downstream, ['kube-system/kube-dns']);
  assert.equal(i.evidence[0]!.path, 'downstream');
  assert.equal(i.evidence[0]!.detail, 'shop/api-0');
  assert.match(incidentMessage(i), /2 DNS queries from shop\/api-0 to kube-system\/kube-dns \(10\.96\.0\.10:53\) unanswered for 1 s, and no packet of them dropped on this node: the DNS server did not answer/);
});

test('late queries sent before the window, or another pod\'s, say nothing about it', () => {
  assert.equal(judged({ 2000: { dns: [late] } }).verdict, 'none', 'counted late at 3000: sent before 2500');
  assert.equal(judged({ 5000: { dns: [{ ...late, clientIp: '10.77.1.99' }] } }).verdict, 'none');
});

test('drops of the queries explain the timeout: they go into its evidence and decide nothing alone', () => {
  const dropped = attributedDrop({
    tuple: { family: 4, proto: 17, saddr: API_POD, daddr: KUBE_DNS.endpoints[1]!.ip, sport: 40000, dport: 53 },
    origDst: { ip: '10.96.0.10', port: 53 }, ct: DNAT, service: KUBE_DNS, direction: 'to_service', mechanisms: ['netfilter-drop'],
    detail: 'filter/FORWARD', packets: 3,
  });
  const i = judged({ 4000: { drops: [dropped] }, 5000: { dns: [late] } });
  assert.equal(i.verdict, 'dns-timeout');
  assert.equal(i.evidence.filter((e) => e.kind === 'drop').length, 0, 'the drops are inside the DNS evidence');
  assert.deepEqual(i.evidence[0]!.dns!.dropped.map((d) => [d.mechanisms, d.count]), [[['netfilter-drop'], 3]]);
  assert.match(incidentMessage(i), /unanswered for 1 s, explained by the node: 3 packets dropped by a netfilter rule \(filter\/FORWARD, nft_do_chain\)/);
  assert.equal(judged({ 4000: { drops: [dropped] } }).verdict, 'netfilter-drop', 'without the late queries, a drop is a drop');
});

test('SERVFAIL: dns-error; NXDOMAIN only when no name was found (beside NOERROR it is the search list)', () => {
  const servfail = judged({ 5000: { dns: [attributedDns({ clientIp: API_POD, answers: new Map([[2, 2]]) })] } });
  assert.equal(servfail.verdict, 'dns-error');
  assert.match(incidentMessage(servfail), /DNS queries from shop\/api-0 to kube-system\/kube-dns \(10\.96\.0\.10:53\) answered 2 SERVFAIL: the name did not resolve/);
  const notFound = judged({ 5000: { dns: [attributedDns({ clientIp: API_POD, queries: 8, answers: new Map([[3, 8]]) })] } });
  assert.equal(notFound.verdict, 'dns-error');
  assert.equal(notFound.evidence[0]!.count, 8);
  const searchList = judged({ 5000: { dns: [attributedDns({ clientIp: API_POD, queries: 8, answers: new Map([[3, 6], [0, 2]]) })] } });
  assert.equal(searchList.verdict, 'none');
});

test('NXDOMAIN judged drain by drain: a window across the fault\'s start or end still finds the name gone', () => {
  const lookups = (nx: number, ok: number) => ({ dns: [attributedDns({ clientIp: API_POD, queries: nx + ok, answers: new Map([[3, nx], [0, ok]]) })] });
  // window (2500, 6000]: the name resolved until 4000, then not at all
  const start = judged({ 3000: lookups(3, 1), 4000: lookups(8, 0), 5000: lookups(8, 0) });
  assert.equal(start.verdict, 'dns-error');
  assert.equal(start.evidence[0]!.count, 16, 'the search list\'s NXDOMAIN beside the NOERROR before the fault does not count');
  assert.match(incidentMessage(start), /answered 16 NXDOMAIN and no name found/);
  // the name is back in the window's last drain
  assert.equal(judged({ 3000: lookups(8, 0), 4000: lookups(8, 0), 5000: lookups(3, 1) }).verdict, 'dns-error');
  assert.equal(judged({ 3000: lookups(3, 1), 4000: lookups(6, 2), 5000: lookups(3, 1) }).verdict, 'none', 'every drain found the name');
});

test('the order: a timeout before an error; a loss on the probe\'s own path before either', () => {
  const both = judged({ 5000: { dns: [{ ...late, answers: new Map([[2, 1]]) }] } });
  assert.equal(both.verdict, 'dns-timeout');
  assert.equal(both.evidence[1]!.kind, 'dns-error');
  const toPod = attributedDrop({ tuple: { family: 4, proto: 6, saddr: '10.77.1.1', daddr: API_POD, sport: 5000, dport: 8080 }, service: API, direction: 'to_service', packets: 2 });
  assert.equal(judged({ 4000: { drops: [toPod] }, 5000: { dns: [late] } }, failure({ kind: 'timeout', detail: 'context deadline exceeded', status: undefined })).verdict, 'netfilter-drop');
});

test('the pods of a dependency the payload names: their DNS counts too', () => {
  const dbLate = { ...late, clientIp: DB_POD };
  const i = judged({ 5000: { dns: [dbLate] } }, failure({ failedDependencies: ['db'] }));
  assert.equal(i.verdict, 'dns-timeout');
  assert.equal(i.evidence[0]!.detail, 'shop/db-0');
  assert.equal(judged({ 5000: { dns: [dbLate] } }).verdict, 'none', 'unnamed, db is not on the failure\'s paths');
});

test('a query still in flight at the window\'s end: the judgement waits for the sweep that counts it late', () => {
  const { c, incidents } = setup();
  for (let t = 0; t < 6000; t += 1000) c.addInterval(interval(t, t === 5000 ? { dns: [attributedDns({ clientIp: API_POD, queries: 2, answers: new Map(), pending: 2 })] } : {}));
  c.addHealth([failure()]); // window (2500, 6000]
  assert.equal(incidents.length, 0, 'api-0 had queries in flight at 6000');
  c.addInterval(interval(6000, { dns: [{ ...late, queries: 0 }] }));
  assert.equal(incidents.length, 0, 'a second past 6000, one interval more');
  c.addInterval(interval(7000));
  assert.equal(incidents.length, 1);
  assert.equal(incidents[0]!.verdict, 'dns-timeout');
});

test('another pod\'s queries in flight do not hold the judgement', () => {
  const { c, incidents } = setup();
  for (let t = 0; t < 6000; t += 1000) c.addInterval(interval(t, t === 5000 ? { dns: [attributedDns({ clientIp: '10.77.1.99', pending: 5 })] } : {}));
  c.addHealth([failure()]);
  assert.equal(incidents.length, 1);
  assert.equal(incidents[0]!.verdict, 'none');
});
