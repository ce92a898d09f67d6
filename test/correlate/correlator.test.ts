// The correlator on hand-made intervals: which evidence lies on a failure's paths, the verdict's order, the
// window, one incident per failure however many sources saw it, and the wait for late evidence.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Correlator, type JudgedFailure } from '../../src/correlate/correlator';
import type { Incident } from '../../src/correlate/incident';
import type { HealthObservation, ListenOverflowObservation } from '../../src/observe/health';
import type { PodInfo } from '../../src/observe/objects';
import { ServiceIndex } from '../../src/services/index';
import type { ServicePort } from '../../src/observe/objects';
import type { NodeInterval } from '../../src/node/interval';
import type { CpuThrottleObservation } from '../../src/observe/cpu';
import type { DropSampleObservation } from '../../src/observe/kernel';
import { describeEvidence, incidentMessage } from '../../src/report/incident-text';
import { attributedDrop, attributedRetransmit } from '../fixtures/observations';
import { podLookup } from '../helpers/pods';

const WEB_POD = '10.77.1.10';
const DB_POD = '10.77.1.20';
const WEB: ServicePort = { namespace: 'shop', name: 'web', portName: 'http', protocol: 'tcp', port: 80, clusterIPs: ['10.96.0.10'], externalIPs: [], loadBalancerIPs: [], endpoints: [{ ip: WEB_POD, port: 8080 }] };
const DB: ServicePort = { namespace: 'shop', name: 'db', portName: 'pg', protocol: 'tcp', port: 5432, clusterIPs: ['10.96.0.20'], externalIPs: [], loadBalancerIPs: [], endpoints: [{ ip: DB_POD, port: 5432 }] };
const PODS: PodInfo[] = [{ namespace: 'shop', name: 'web-1', workload: { namespace: 'shop', kind: 'Deployment', name: 'web' }, uid: 'u1', nodeName: 'n1', ips: [WEB_POD], hostNetwork: false, probes: [] }];
const DNAT = { present: true, confirmed: false, dnat: true, snat: false, reply: false };

function setup(now = { t: 10_000 }, onHost?: (ip: string) => boolean) {
  const index = new ServiceIndex();
  index.publish('kubernetes', [WEB, DB]);
  const c = new Correlator({
    index, pods: podLookup(PODS), slackMs: 500, maxWaitMs: 5000, historyMs: 120_000, maxItemsPerInterval: 1000, maxIncidents: 100,
    now: () => now.t, onError: (err) => assert.fail(String(err)), sourceDelayMs: { kubelet: 2000 }, ...(onHost && { onHost }),
  });
  const incidents: Incident[] = [];
  const failures: JudgedFailure[] = [];
  c.onIncident((list) => incidents.push(...list));
  c.onFailure((list) => failures.push(...list));
  return { c, incidents, failures, now };
}

const interval = (start: number, over: Partial<NodeInterval> = {}): NodeInterval => ({ start, end: start + 1000, drops: [], retransmits: [], connections: [], rules: [], diedUnreplied: [], ...over });

/** Evidence in (4000, 5000] (and these overflows scanned at 4500), intervals up to 7000, then the failure at 5500 (window (2500, 6000]). */
function judgeWith(c: Correlator, evidence: Partial<NodeInterval>, overflows?: ListenOverflowObservation[]): void {
  c.addInterval(interval(4000, evidence));
  if (overflows) c.addListenOverflows(overflows, 4500);
  c.addInterval(interval(5000));
  c.addInterval(interval(6000));
  c.addHealth([failure()]);
}

function failure(over: Partial<HealthObservation> = {}): HealthObservation {
  return {
    at: 5_500, source: 'event', ok: false, pod: { namespace: 'shop', name: 'web-1' }, probe: 'Readiness', kind: 'timeout',
    detail: 'context deadline exceeded', lookbackMs: 3000, ...over,
  };
}

/** web's pod calls db through its ClusterIP; a rule drops the DNATed SYN on the way to db's pod. */
const dbPathDrop = attributedDrop({
  tuple: { family: 4, proto: 6, saddr: WEB_POD, daddr: DB_POD, sport: 40000, dport: 5432 },
  origDst: { ip: '10.96.0.20', port: 5432 }, ct: DNAT, service: DB, direction: 'to_service', mechanisms: ['netfilter-drop'],
  detail: 'a rule verdict in nft_do_chain', packets: 4,
});

test('a dependency\'s loss names the dependency: downstream netfilter-drop for shop/db', () => {
  const { c, incidents } = setup();
  for (let t = 0; t < 8000; t += 1000) c.addInterval(interval(t, t === 4000 ? { drops: [dbPathDrop] } : {}));
  c.addHealth([failure()]);
  assert.equal(incidents.length, 1);
  const [i] = incidents;
  assert.equal(i!.verdict, 'netfilter-drop');
  assert.deepEqual(i!.service, { namespace: 'shop', name: 'web' });
  assert.deepEqual(i!.downstream, ['shop/db']);
  assert.equal(i!.evidence[0]!.path, 'downstream');
  assert.equal(i!.evidence[0]!.dst, '10.96.0.20:5432');
  assert.match(incidentMessage(i!), /^shop\/web Readiness failed \(context deadline exceeded\): 4 packets to shop\/db \(10\.96\.0\.20:5432\) dropped by a netfilter rule/);
});

test('the window: evidence before failure − lookback or after failure + slack does not count', () => {
  const { c, incidents } = setup();
  for (let t = 0; t < 9000; t += 1000) c.addInterval(interval(t, t === 1000 || t === 7000 ? { drops: [dbPathDrop] } : {}));
  c.addHealth([failure({ at: 5_500, lookbackMs: 3000 })]); // window (2500, 6000]
  assert.equal(incidents[0]!.verdict, 'none');
  assert.match(incidentMessage(incidents[0]!), /no packet was lost on its path in the 3\.5s around it: look at the application/);
});

test('most specific first: no-endpoints beats a plain rule drop and retransmits; aftermath frees never decide', () => {
  const { c, incidents } = setup();
  const reject = attributedDrop({ ...dbPathDrop, tuple: { ...dbPathDrop.tuple, daddr: '10.96.0.20' }, origDst: { ip: '10.96.0.20', port: 5432 }, ct: { ...DNAT, dnat: false }, mechanisms: ['no-endpoints'], packets: 2, detail: 'filter/KUBE-SERVICES reject_no_endpoints' });
  const noSocket = attributedDrop({ tuple: { ...dbPathDrop.tuple, daddr: WEB_POD, dport: 8080 }, service: WEB, direction: 'to_service', reasonName: 'NO_SOCKET', mechanisms: ['kernel-drop'], detail: 'NO_SOCKET', packets: 9 });
  const syn = attributedRetransmit({ tuple: { family: 4, proto: 6, saddr: WEB_POD, daddr: '10.96.0.20', sport: 40000, dport: 5432 }, service: DB, direction: 'to_service', packets: 3 });
  judgeWith(c, { drops: [dbPathDrop, reject, noSocket], retransmits: [syn] });
  const [i] = incidents;
  assert.equal(i!.verdict, 'no-endpoints');
  assert.deepEqual(i!.evidence.map((e) => e.kind === 'drop' ? e.mechanisms[0] : e.kind), ['no-endpoints', 'netfilter-drop', 'retransmit', 'kernel-drop']);
  assert.deepEqual(i!.evidence.map((e) => e.consequence ?? false), [false, false, false, true], 'the aftermath is listed last, as a consequence');
  assert.equal(i!.evidence[3]!.reason, 'NO_SOCKET');
});

test('an HTTP answer proves the probe path delivered: drops to the pod itself do not explain a 503', () => {
  const { c, incidents } = setup();
  const toPod = attributedDrop({ tuple: { family: 4, proto: 6, saddr: '10.77.1.1', daddr: WEB_POD, sport: 5000, dport: 8080 }, service: WEB, direction: 'to_service', packets: 2 });
  c.addInterval(interval(4000, { drops: [toPod] }));
  c.addInterval(interval(5000));
  c.addInterval(interval(6000));
  c.addHealth([failure({ kind: 'http-status', status: 503, detail: 'HTTP probe failed with statuscode: 503', failedDependencies: ['db'] })]);
  c.addHealth([failure({ at: 5_600, pod: { namespace: 'shop', name: 'other' }, kind: 'timeout' })]);
  assert.equal(incidents[0]!.verdict, 'none');
  assert.match(incidentMessage(incidents[0]!), /look at the application; its payload says db failed; the cascade's root: shop\/db \(shop\/web → shop\/db\)$/);
  assert.deepEqual(incidents[0]!.cascade, { root: 'shop/db', chain: ['shop/web', 'shop/db'] });
});

test('behind an HTTP answer an unspecified kernel drop downstream decides nothing; a named one does', () => {
  const toDbStack = (over: Partial<Parameters<typeof attributedDrop>[0]>) => attributedDrop({
    tuple: { family: 4, proto: 6, saddr: WEB_POD, daddr: '10.77.2.9', sport: 40000, dport: 5432 }, service: DB, direction: 'to_service',
    reasonName: 'NOT_SPECIFIED', reason: 2, location: 'tcp_v4_rcv', mechanisms: ['kernel-drop'], detail: 'NOT_SPECIFIED', ...over,
  });
  const answered = (drop: ReturnType<typeof attributedDrop>) => {
    const { c, incidents } = setup();
    for (let t = 4000; t <= 6000; t += 1000) c.addInterval(interval(t, t === 4000 ? { drops: [drop] } : {}));
    c.addHealth([failure({ kind: 'http-status', status: 503, detail: 'HTTP probe failed with statuscode: 503', failedDependencies: ['db'] })]);
    return incidents[0]!;
  };
  const unspecified = answered(toDbStack({}));
  assert.equal(unspecified.verdict, 'none');
  assert.deepEqual(unspecified.downstream, []);
  assert.equal(unspecified.evidence[0]?.reason, 'NOT_SPECIFIED', 'still listed');
  const qdisc = answered(toDbStack({ reasonName: 'QDISC_DROP', reason: 34, location: 'dev_qdisc_enqueue', detail: 'QDISC_DROP' }));
  assert.equal(qdisc.verdict, 'kernel-drop');
  assert.deepEqual(qdisc.downstream, ['shop/db']);
});

test('a timeout with drops on the way to the pod: the probe path\'s own drop', () => {
  const { c, incidents } = setup();
  const toPod = attributedDrop({ tuple: { family: 4, proto: 6, saddr: '10.77.1.1', daddr: WEB_POD, sport: 5000, dport: 8080 }, service: WEB, direction: 'to_service', packets: 2 });
  judgeWith(c, { drops: [toPod] });
  assert.equal(incidents[0]!.verdict, 'netfilter-drop');
  assert.equal(incidents[0]!.evidence[0]!.path, 'probe');
});

test('listen overflows in the pod beat the client\'s SYN retransmissions', () => {
  const { c, incidents } = setup();
  const syn = attributedRetransmit({ tuple: { family: 4, proto: 6, saddr: '10.77.1.1', daddr: WEB_POD, sport: 5000, dport: 8080 }, service: WEB, direction: 'to_service', packets: 2 });
  judgeWith(c, { retransmits: [syn] }, [{ at: 4500, netns: 77, addrs: [WEB_POD], pod: { namespace: 'shop', name: 'web-1' }, listenOverflows: 5, listenDrops: 5 }]);
  assert.equal(incidents[0]!.verdict, 'listen-overflow');
  assert.match(incidentMessage(incidents[0]!), /SYNs lost to a full accept queue: pod shop\/web-1: 5 ListenOverflows/);
});

test('retransmits alone: loss beyond this node', () => {
  const { c, incidents } = setup();
  const syn = attributedRetransmit({ tuple: { family: 4, proto: 6, saddr: '10.77.1.1', daddr: WEB_POD, sport: 5000, dport: 8080 }, service: WEB, direction: 'to_service', packets: 2 });
  judgeWith(c, { retransmits: [syn] });
  assert.equal(incidents[0]!.verdict, 'retransmits');
});

test('a closing socket\'s retransmits (the FIN of a prober that gave up) are consequences, never the verdict', () => {
  const { c, incidents } = setup();
  const fin = attributedRetransmit({ tuple: { family: 4, proto: 6, saddr: '10.77.1.1', daddr: WEB_POD, sport: 5000, dport: 8080 }, service: WEB, direction: 'to_service', state: 'FIN_WAIT1', packets: 4 });
  judgeWith(c, { retransmits: [fin] });
  const [i] = incidents;
  assert.equal(i!.verdict, 'none');
  assert.equal(i!.evidence[0]!.consequence, true);
  assert.match(describeEvidence(i!.evidence[0]!), /4 TCP retransmissions .*FIN_WAIT1.*a consequence of the failure/);
});

test('standalone: a --probe URL to a netns of this host whose accept queue overflowed is listen-overflow', () => {
  const { c, incidents } = setup();
  const url = failure({ source: 'active', pod: undefined, service: { namespace: '', name: 'http://10.9.0.5:8080/health' }, probe: 'GET /health', path: 'url', target: { ip: '10.9.0.5', port: 8080 } });
  const syn = attributedRetransmit({ tuple: { family: 4, proto: 6, saddr: '10.9.0.1', daddr: '10.9.0.5', sport: 5000, dport: 8080 }, service: null, direction: 'node', packets: 2 });
  c.addInterval(interval(4000, { retransmits: [syn] }));
  c.addListenOverflows([{ at: 4500, netns: 77, addrs: ['10.9.0.5'], listenOverflows: 4, listenDrops: 4 }], 4500);
  c.addInterval(interval(5000));
  c.addInterval(interval(6000));
  c.addHealth([url]);
  assert.equal(incidents[0]!.verdict, 'listen-overflow');
  assert.deepEqual(incidents[0]!.service, { namespace: '', name: 'http://10.9.0.5:8080/health' });
});

test('standalone: SYN retransmissions to an address of this host are never loss beyond this node', () => {
  const { c, incidents } = setup(undefined, (ip) => ip === '10.9.0.5');
  const url = failure({ source: 'active', pod: undefined, service: { namespace: '', name: 'http://10.9.0.5:8080/health' }, probe: 'GET /health', path: 'url', target: { ip: '10.9.0.5', port: 8080 } });
  const syn = attributedRetransmit({ tuple: { family: 4, proto: 6, saddr: '10.9.0.1', daddr: '10.9.0.5', sport: 5000, dport: 8080 }, service: null, direction: 'node', packets: 2 });
  judgeWith(c, { retransmits: [syn] });
  c.addHealth([url]);
  const i = incidents.find((x) => x.path === 'url')!;
  assert.equal(i.verdict, 'retransmits');
  assert.equal(i.evidence[0]!.onHost, true);
  assert.doesNotMatch(incidentMessage(i), /beyond this node/);
  assert.match(incidentMessage(i), /an address on this host, and no drop seen/);
});

test('a --probe URL whose address is a Service\'s ClusterIP is reported under the Service', () => {
  const { c, incidents } = setup();
  const url = failure({ source: 'active', pod: undefined, service: { namespace: '', name: 'http://10.96.0.10/health' }, probe: 'GET /health', path: 'url', target: { ip: '10.96.0.10', port: 80 } });
  for (let t = 4000; t <= 6000; t += 1000) c.addInterval(interval(t));
  c.addHealth([url]);
  assert.deepEqual(incidents[0]!.service, { namespace: 'shop', name: 'web' });
});

test('waits for the interval that covers the window\'s end; judges anyway when it never comes', () => {
  const { c, incidents, now } = setup();
  c.addInterval(interval(4000, { drops: [dbPathDrop] }));
  c.addHealth([failure({ at: 5_500 })]);
  assert.equal(incidents.length, 0, 'the evidence up to 6000 is not in yet');
  c.addInterval(interval(5000));
  assert.equal(incidents.length, 1);
  assert.equal(incidents[0]!.verdict, 'netfilter-drop');
  c.addHealth([failure({ at: 9_000, pod: { namespace: 'shop', name: 'other' } })]);
  now.t = 9_000 + 500 + 5000;
  c.judgeReady(now.t);
  assert.equal(incidents.length, 2);
  assert.equal(incidents[1]!.incomplete, true);
});

test('one failure reported by kubelet\'s metrics and by its Event is one incident, counted per source', () => {
  const { c, incidents, failures } = setup();
  for (let t = 0; t < 8000; t += 1000) c.addInterval(interval(t));
  c.addHealth([failure({ source: 'event' })]);
  c.addHealth([failure({ source: 'kubelet', at: 6_200 })]);
  assert.equal(incidents.length, 1);
  assert.deepEqual(incidents[0]!.sources, ['event', 'kubelet']);
  assert.deepEqual(failures.map((f) => [f.observation.source, f.incident.id]), [['event', 1], ['kubelet', 1]]);
});

test('active probes: the ClusterIP path fails while the pod path works, and the incident shows the differential', () => {
  const { c, incidents } = setup();
  const web = { namespace: 'shop', name: 'web' };
  const probe = (path: 'cluster_ip' | 'pod', ok: boolean, at: number): HealthObservation => ({
    at, source: 'active', ok, service: web, probe: 'GET /health', path, target: path === 'pod' ? { ip: WEB_POD, port: 8080 } : { ip: '10.96.0.10', port: 80 },
    kind: ok ? 'unknown' : 'timeout', detail: ok ? '200' : 'timeout after 2000 ms', lookbackMs: 3000, ...(ok ? {} : { retry: { ok: true, detail: '200' } }),
  });
  const reject = attributedDrop({ tuple: { family: 4, proto: 6, saddr: '10.77.1.1', daddr: '10.96.0.10', sport: 5000, dport: 80 }, service: WEB, direction: 'to_service', mechanisms: ['conntrack-table-full'], packets: 1, location: 'nf_hook_slow' });
  c.addInterval(interval(4000, { drops: [reject] }));
  c.addHealth([probe('pod', true, 4100), probe('cluster_ip', true, 4200), probe('pod', true, 5100)]);
  c.addInterval(interval(5000));
  c.addHealth([probe('cluster_ip', false, 5200)]);
  c.addInterval(interval(6000));
  assert.equal(incidents.length, 1);
  const [i] = incidents;
  assert.equal(i!.verdict, 'conntrack-table-full');
  assert.equal(i!.evidence[0]!.path, 'service');
  assert.deepEqual(i!.probes, { pod: { ok: 2, failed: 0 }, cluster_ip: { ok: 1, failed: 1 } });
  assert.match(incidentMessage(i!), /^shop\/web GET \/health via the ClusterIP failed .*; an immediate retry succeeded: retries would have hidden it$/);
  assert.equal(c.incidents({ service: web }).length, 1);
  assert.deepEqual(c.serviceEvidence(web).probes, { pod: { ok: 2, failed: 0 }, cluster_ip: { ok: 1, failed: 1 } });
});

test('with listen overflows read every N ms, a judgement waits for the scan after its window and counts what it found', () => {
  const now = { t: 10_000 };
  const index = new ServiceIndex();
  index.publish('kubernetes', [WEB, DB]);
  const c = new Correlator({
    index, pods: podLookup(PODS), slackMs: 500, maxWaitMs: 5000, historyMs: 120_000, maxItemsPerInterval: 1000, maxIncidents: 100,
    listenIntervalMs: 2000, now: () => now.t, onError: (err) => assert.fail(String(err)),
  });
  const incidents: Incident[] = [];
  c.onIncident((list) => incidents.push(...list));
  for (let t = 0; t < 9000; t += 1000) c.addInterval(interval(t));
  c.addListenOverflows([], 5_000);
  c.addHealth([failure({ at: 5_500 })]); // window ends at 6000: the scan at 5000 is not enough
  assert.equal(incidents.length, 0);
  c.addListenOverflows([{ at: 7_200, netns: 77, addrs: [WEB_POD], listenOverflows: 3, listenDrops: 3 }], 7_200);
  assert.equal(incidents.length, 1);
  assert.equal(incidents[0]!.verdict, 'listen-overflow');
});

test('a streak of failures from one source is one incident each; another source\'s report of one joins it', () => {
  const { c, incidents, failures } = setup();
  for (let t = 0; t < 10_000; t += 1000) c.addInterval(interval(t));
  c.addHealth([failure({ source: 'event', at: 5_000 }), failure({ source: 'event', at: 6_000 })]);
  c.addHealth([failure({ source: 'kubelet', at: 6_300 })]);
  assert.equal(incidents.length, 2);
  assert.deepEqual(incidents.map((i) => i.sources), [['event'], ['event', 'kubelet']]);
  assert.equal(failures.length, 3);
});

test('an unspecified kernel drop says less than a full accept queue; a late reply to a probe that gave up decides nothing', () => {
  const { c, incidents } = setup();
  const unspecified = attributedDrop({ tuple: { family: 4, proto: 6, saddr: WEB_POD, daddr: '10.77.1.1', sport: 8080, dport: 45000 }, service: WEB, direction: 'from_service', reasonName: 'NOT_SPECIFIED', reason: 2, location: 'tcp_v4_rcv', mechanisms: ['kernel-drop'], detail: 'NOT_SPECIFIED' });
  judgeWith(c, { drops: [unspecified] }, [{ at: 4500, netns: 77, addrs: [WEB_POD], listenOverflows: 2, listenDrops: 2 }]);
  assert.equal(incidents[0]!.verdict, 'listen-overflow');
  assert.deepEqual(incidents[0]!.evidence.map((e) => e.kind), ['listen-overflow', 'drop']);
  // from the checked pod back to the checker, discarded by TCP: the probe's socket had given up (a slow pod)
  const alone = setup();
  judgeWith(alone.c, { drops: [unspecified] });
  assert.equal(alone.incidents[0]!.verdict, 'none');
  assert.equal(alone.incidents[0]!.evidence[0]!.consequence, true);
  assert.match(incidentMessage(alone.incidents[0]!), /look at the application/);
  assert.match(describeEvidence(alone.incidents[0]!.evidence[0]!), /a consequence of the failure/);
  // towards the pod it is no reply of the pod's: it still says something
  const toPod = attributedDrop({ ...unspecified, tuple: { family: 4, proto: 6, saddr: '10.77.1.1', daddr: WEB_POD, sport: 45000, dport: 8080 }, direction: 'to_service' });
  const other = setup();
  judgeWith(other.c, { drops: [toPod] });
  assert.equal(other.incidents[0]!.verdict, 'kernel-drop');
});

test('through the ClusterIP too: the late reply, from the ClusterIP once NAT is undone, to a probe that gave up decides nothing', () => {
  const { c, incidents } = setup();
  const late = attributedDrop({ tuple: { family: 4, proto: 6, saddr: '10.96.0.10', daddr: '10.77.1.1', sport: 80, dport: 45000 }, ct: { ...DNAT, reply: true }, service: WEB, direction: 'from_service', reasonName: 'NOT_SPECIFIED', reason: 2, location: 'tcp_v4_rcv', mechanisms: ['kernel-drop'], detail: 'NOT_SPECIFIED' });
  judgeWith(c, { drops: [late] });
  c.addHealth([failure({ source: 'active', at: 5_600, path: 'cluster_ip', service: { namespace: 'shop', name: 'web' }, target: { ip: '10.96.0.10', port: 80 }, pod: undefined })]);
  const active = incidents.find((i) => i.path === 'cluster_ip')!;
  assert.equal(active.verdict, 'none');
  assert.equal(active.evidence[0]!.consequence, true);
});

test('a probe that timed out on a pod held back by its CPU quota: cpu-throttled, unless the network explains it', () => {
  const throttle = (throttledMs: number): CpuThrottleObservation => ({
    at: 5000, since: 4000, pod: { namespace: 'shop', name: 'web-1' }, uid: 'u1', throttledIn: 'pod', periods: 10, throttledPeriods: 9, throttledMs, usageMs: 100, containers: [],
  });
  const judgedWith = (o: CpuThrottleObservation, evidence: Partial<NodeInterval> = {}) => {
    const index = new ServiceIndex();
    index.publish('kubernetes', [WEB, DB]);
    const c = new Correlator({
      index, pods: podLookup(PODS), slackMs: 500, maxWaitMs: 5000, historyMs: 120_000, maxItemsPerInterval: 1000, maxIncidents: 100,
      now: () => 10_000, onError: (err) => assert.fail(String(err)), cpuIntervalMs: 5000,
    });
    const incidents: Incident[] = [];
    c.onIncident((list) => incidents.push(...list));
    c.addInterval(interval(4000, evidence));
    c.addInterval(interval(5000));
    c.addInterval(interval(6000));
    c.addHealth([failure({ timeoutMs: 1000 })]);
    assert.equal(incidents.length, 0, 'waits for the CPU read that covers the window');
    c.addCpuThrottles([o], 6500);
    return incidents[0]!;
  };
  const starved = judgedWith(throttle(900));
  assert.equal(starved.verdict, 'cpu-throttled');
  assert.equal(starved.evidence[0]!.cpu!.throttledShare, 0.9);
  assert.match(incidentMessage(starved), /pod shop\/web-1 was CPU-throttled in 9 of 10 periods \(90%\): held back 0\.9s against the probe's 1s timeout/);
  assert.equal(judgedWith(throttle(100)).verdict, 'none', 'a tenth of the timeout held back explains nothing');
  const toPod = attributedDrop({ tuple: { family: 4, proto: 6, saddr: '10.77.1.1', daddr: WEB_POD, sport: 5000, dport: 8080 }, service: WEB, direction: 'to_service', packets: 2 });
  assert.equal(judgedWith(throttle(900), { drops: [toPod] }).verdict, 'netfilter-drop', 'a lost packet is the more specific cause');
});

test('a drop\'s evidence shows a few of the dropped packets the tracer sampled in the window', () => {
  const { c, incidents } = setup();
  const sample = (at: number, sport: number): DropSampleObservation => ({
    ...dbPathDrop, tuple: { ...dbPathDrop.tuple, sport }, at, len: 60, ifindex: 3,
  });
  c.addSamples([sample(1000, 1), sample(4100, 40001), sample(4200, 40002), sample(4300, 40003), sample(4400, 40004)]);
  for (let t = 0; t < 8000; t += 1000) c.addInterval(interval(t, t === 4000 ? { drops: [dbPathDrop] } : {}));
  c.addHealth([failure()]);
  const examples = incidents[0]!.evidence[0]!.examples!;
  assert.deepEqual(examples.map((x) => [x.from, x.to, x.sentTo]), [
    [`${WEB_POD}:40002`, `${DB_POD}:5432`, '10.96.0.20:5432'],
    [`${WEB_POD}:40003`, `${DB_POD}:5432`, '10.96.0.20:5432'],
    [`${WEB_POD}:40004`, `${DB_POD}:5432`, '10.96.0.20:5432'],
  ], 'the last three in the window; the one before it is not');
});
