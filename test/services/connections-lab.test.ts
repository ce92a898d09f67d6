// The service graph's connects in the lab, end to end on the real kernel: the client's connects through kube-proxy
// to Services that answer, refuse (no endpoints: the REJECT rule), black-hole (a DROP rule: the kernel gives up
// after its SYN retries) and answer late (a lost first SYN), counted by the tracker, attributed by the node's
// intervals to the client's workload and the Service, and exported as edges.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Workload } from '../../src/observe/objects';
import { CONNECT_BOUNDS_S, edgeMetrics } from '../../src/report/metrics/edges';
import { TextRegistry } from '../../src/report/metrics/text-registry';
import { kernelSkip } from '../helpers/env';
import { Lab } from '../lab/lab';
import { sysctlSet } from '../lab/netns';
import { pipeline, until, type Pipeline } from './pipeline';

const CLIENT: Workload = { namespace: 'lab', kind: 'Deployment', name: 'client' };

describe('connects in the lab, per edge', { skip: kernelSkip, timeout: 120_000 }, () => {
  let lab: Lab;
  let p: Pipeline;
  const registry = new TextRegistry();
  const edges = edgeMetrics(registry, { labelCap: 100 });
  let fed = 0;

  /** Feeds the intervals seen so far to the edge metrics; returns the value of each series of `name` whose edge is Service `service`. */
  async function series(name: string, service: string): Promise<Map<string, number>> {
    for (const iv of p.seen.slice(fed)) edges.add(iv);
    fed = p.seen.length;
    const out = new Map<string, number>();
    const edge = `client_namespace="lab",client_kind="Deployment",client_workload="client",namespace="shop",service="${service}",port="http"`;
    for (const line of (await registry.metrics()).split('\n')) {
      if (!line.startsWith(`${name}{${edge}`) && !line.startsWith(`${name}_`)) continue;
      const m = new RegExp(`^${name}(_bucket|_sum|_count)?\\{${edge}(?:,(\\w+)="([^"]*)")?\\} (\\S+)$`).exec(line);
      if (m) out.set(`${m[1] ?? ''}${m[2] ? `${m[2]}=${m[3]}` : ''}`, Number(m[4]));
    }
    return out;
  }
  const connected = (service: string) => p.seen.flatMap((iv) => iv.connections).filter((c) => c.service?.name === service);
  const sum = (list: { attempted: number }[]) => list.reduce((n, c) => n + c.attempted, 0);

  before(async () => {
    lab = await Lab.create({
      pods: 4,
      services: [
        { name: 'web', namespace: 'shop', portName: 'http', endpoints: [{ podIndex: 0, port: 8080 }, { podIndex: 1, port: 8080 }] },
        { name: 'gone', namespace: 'shop', portName: 'http', endpoints: [] },
        { name: 'hole', namespace: 'shop', portName: 'http', endpoints: [{ podIndex: 2, port: 8080 }] },
        { name: 'slow', namespace: 'shop', portName: 'http', endpoints: [{ podIndex: 3, port: 8080 }] },
      ],
    });
    // the kernel gives up a connect after 1 s + 2 s of SYN retries instead of 127 s
    await sysctlSet(lab.client, 'net.ipv4.tcp_syn_retries', 1);
    p = await pipeline(lab.node, { connections: true, clientOf: (ip) => (ip === lab.clientIp ? CLIENT : undefined) });
  });
  after(async () => {
    await p?.stop();
    await lab?.destroy();
  });

  test('connects that establish: attempted and established on the client → web edge, each handshake timed, the ClusterIP as destination', async () => {
    const web = lab.service('shop/web');
    for (let i = 0; i < 5; i++) assert.equal((await lab.tcpConnect(lab.client, web.clusterIP, web.port)).error, undefined);
    await until(p, () => sum(connected('web')) >= 5, '5 connects to web');
    for (const c of connected('web')) {
      assert.deepEqual(c.dst, { ip: web.clusterIP, port: web.port }, 'the socket sees the ClusterIP, never the endpoint');
      assert.equal(c.saddr, lab.clientIp);
      assert.deepEqual(c.client, CLIENT);
      assert.equal(c.direction, 'to_service');
    }
    const counts = await series('flapwatch_edge_connections_total', 'web');
    assert.deepEqual(Object.fromEntries(counts), { 'result=attempted': 5, 'result=established': 5 });
    const histogram = await series('flapwatch_edge_connect_seconds', 'web');
    assert.equal(histogram.get('_count'), 5);
    assert.equal(histogram.get('_bucketle=+Inf'), 5);
  });

  test('connects to a Service without endpoints are refused by its REJECT rule: attempted and failed on client → gone', async () => {
    const gone = lab.service('shop/gone');
    for (let i = 0; i < 3; i++) assert.equal((await lab.tcpConnect(lab.client, gone.clusterIP, gone.port)).error, 'ECONNREFUSED');
    await until(p, () => sum(connected('gone')) >= 3, '3 connects to gone');
    assert.deepEqual(Object.fromEntries(await series('flapwatch_edge_connections_total', 'gone')), { 'result=attempted': 3, 'result=failed': 3 });
    assert.equal((await series('flapwatch_edge_connect_seconds', 'gone')).size, 0, 'no handshake, no time');
  });

  test('connects to a black-holed endpoint fail once the kernel gives up its SYN retries: client → hole', async () => {
    const hole = lab.service('shop/hole');
    const undo = await lab.dropOnPath(2, 1);
    try {
      // the probe waits longer than the kernel: the kernel's own timeout fails the connect
      const results = await Promise.all([0, 1].map(() => lab.tcpConnect(lab.client, hole.clusterIP, hole.port, 10_000)));
      assert.deepEqual(results.map((r) => r.error), ['ETIMEDOUT', 'ETIMEDOUT']);
      await until(p, () => connected('hole').reduce((n, c) => n + c.failed, 0) >= 2, '2 failed connects to hole');
    } finally {
      await undo();
    }
    assert.deepEqual(Object.fromEntries(await series('flapwatch_edge_connections_total', 'hole')), { 'result=attempted': 2, 'result=failed': 2 });
    const retransmitted = p.seen.flatMap((iv) => iv.retransmits).filter((r) => r.service?.name === 'hole' && r.state === 'SYN_SENT');
    assert.ok(retransmitted.length > 0, 'the same edge\'s SYN retransmissions');
  });

  test('a lost first SYN moves each handshake past the retransmission timeout: client → slow, buckets of 1 s and up', async () => {
    const slow = lab.service('shop/slow');
    for (let i = 0; i < 3; i++) assert.equal((await lab.tcpConnect(lab.client, slow.clusterIP, slow.port)).error, undefined);
    await until(p, () => sum(connected('slow')) >= 3, '3 connects to slow');
    const le = (s: Map<string, number>, bound: number) => s.get(`_bucketle=${bound}`) ?? 0;
    const fast = await series('flapwatch_edge_connect_seconds', 'slow');
    assert.equal(fast.get('_count'), 3);
    const undo = await lab.loseFirstSyns(3);
    try {
      for (let i = 0; i < 3; i++) assert.equal((await lab.tcpConnect(lab.client, slow.clusterIP, slow.port, 5000)).error, undefined);
      await until(p, () => connected('slow').reduce((n, c) => n + c.established, 0) >= 6, '3 more established connects to slow');
    } finally {
      await undo();
    }
    const delayed = await series('flapwatch_edge_connect_seconds', 'slow');
    assert.equal(delayed.get('_count'), 6);
    // a retransmitted SYN leaves a second after the first: no delayed handshake is under the last bound below 1 s
    const belowSecond = CONNECT_BOUNDS_S.filter((b) => b < 1).at(-1)!;
    assert.ok(delayed.has(`_bucketle=${belowSecond}`), `a bucket le=${belowSecond}`);
    assert.equal(le(delayed, belowSecond), le(fast, belowSecond), 'the three delayed handshakes are all above the bound below 1 s');
    assert.ok(delayed.get('_sum')! - fast.get('_sum')! >= 3, 'each at least the 1 s retransmission timeout');
    assert.deepEqual(Object.fromEntries(await series('flapwatch_edge_connections_total', 'slow')), { 'result=attempted': 6, 'result=established': 6 });
  });
});
