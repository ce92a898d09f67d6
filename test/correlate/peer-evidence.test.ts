// What a node answers another node's judge (Correlator.evidenceAt): it asks its polled sources for a read that
// covers the window, rather than waiting for their next scan (which the asker's timeout does not outlast).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Correlator } from '../../src/correlate/correlator';
import type { NodeInterval } from '../../src/node/interval';
import type { ServicePort } from '../../src/observe/objects';
import { ServiceIndex } from '../../src/services/index';
import { podLookup } from '../helpers/pods';

const DB_POD = '10.77.2.20';
const DB: ServicePort = { namespace: 'shop', name: 'db', portName: 'pg', protocol: 'tcp', port: 5432, clusterIPs: ['10.96.0.20'], externalIPs: [], loadBalancerIPs: [], endpoints: [{ ip: DB_POD, port: 5432 }] };
const interval = (start: number): NodeInterval => ({ start, end: start + 1000, drops: [], retransmits: [], connections: [], rules: [], diedUnreplied: [] });

test("a peer's question about a window the overflow scans do not cover yet asks for a scan, and answers with it", async () => {
  const index = new ServiceIndex();
  index.publish('kubernetes', [DB]);
  const asked: number[] = [];
  const c: Correlator = new Correlator({
    index, pods: podLookup(), slackMs: 500, maxWaitMs: 5000, historyMs: 120_000, maxItemsPerInterval: 1000, maxIncidents: 100,
    listenIntervalMs: 60_000, onError: (err) => assert.fail(String(err)),
    // the scan the question asked for: db's pod overflowed its accept queue in the window
    readBy: (at) => {
      asked.push(at);
      setImmediate(() => c.addListenOverflows([{ at: Date.now(), netns: 4026532000, addrs: [DB_POD], listenOverflows: 7, listenDrops: 7 }], Date.now()));
    },
  });
  const now = Date.now();
  c.addListenOverflows([], now - 10_000); // the last periodic scan, before the window
  for (let t = now - 5000; t < now; t += 1000) c.addInterval(interval(t));
  const to = now - 1000;
  const answer = await c.evidenceAt([DB_POD], to - 3000, to, 2000);
  assert.deepEqual(asked, [to], 'one read asked for, covering the window');
  assert.equal(answer.complete, true);
  assert.deepEqual(answer.items.map((i) => [i.kind, i.count]), [['listen-overflow', 7]]);
});

test('a question the scans already cover asks for nothing', async () => {
  const index = new ServiceIndex();
  index.publish('kubernetes', [DB]);
  const asked: number[] = [];
  const c = new Correlator({
    index, pods: podLookup(), slackMs: 500, maxWaitMs: 5000, historyMs: 120_000, maxItemsPerInterval: 1000, maxIncidents: 100,
    listenIntervalMs: 60_000, onError: (err) => assert.fail(String(err)), readBy: (at) => asked.push(at),
  });
  const now = Date.now();
  for (let t = now - 5000; t < now; t += 1000) c.addInterval(interval(t));
  c.addListenOverflows([], now);
  const answer = await c.evidenceAt([DB_POD], now - 4000, now - 1000, 2000);
  assert.deepEqual(asked, []);
  assert.equal(answer.complete, true);
  assert.deepEqual(answer.items, []);
});
