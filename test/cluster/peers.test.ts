// One node asks another over HTTP, as the daemons do: the directory from the daemons' headless Service, the
// question and the answer through the real server (report/http.ts and report/api.ts), a node that does not answer.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import pino from 'pino';
import { Registry } from 'prom-client';
import { askPeers, peerUrl } from '../../src/cluster/peers';
import { Correlator } from '../../src/correlate/correlator';
import type { NodeInterval } from '../../src/node/interval';
import { apiRoutes } from '../../src/report/api';
import { startHttp } from '../../src/report/http';
import { ServiceIndex } from '../../src/services/index';
import { attributedRetransmit } from '../fixtures/observations';
import { servicePort } from '../fixtures/service-port';
import { podLookup } from '../helpers/pods';

const DB_POD = '10.244.2.20';
const interval = (start: number, over: Partial<NodeInterval> = {}): NodeInterval => ({ start, end: start + 1000, drops: [], retransmits: [], connections: [], rules: [], diedUnreplied: [], ...over });

test('node-a asks node-b about its pod: the answer holds node-b\'s evidence for it and nothing else', async () => {
  // node-b's daemon, with a retransmission toward its pod and one toward another address
  const b = new Correlator({ index: new ServiceIndex(), pods: podLookup(), slackMs: 500, maxWaitMs: 5000, historyMs: 120_000, maxItemsPerInterval: 100, maxIncidents: 10, onError: (err) => assert.fail(String(err)) });
  const toPod = attributedRetransmit({ tuple: { family: 4, proto: 6, saddr: '10.244.2.1', daddr: DB_POD, sport: 1, dport: 5432 }, service: null, direction: 'node', packets: 2 });
  const other = attributedRetransmit({ tuple: { family: 4, proto: 6, saddr: '10.244.2.1', daddr: '10.244.2.99', sport: 1, dport: 80 }, service: null, direction: 'node', packets: 7 });
  for (let t = 4000; t <= 6000; t += 1000) b.addInterval(interval(t, t === 4000 ? { retransmits: [toPod, other] } : {}));
  const server = await startHttp({ host: '127.0.0.1', port: 0, registry: new Registry(), ready: () => true, logger: pino({ level: 'silent' }), json: apiRoutes(b, new ServiceIndex(), 'node-b') });
  // node-a's view of the cluster: the daemons' Service has node-b's daemon
  const index = new ServiceIndex();
  index.publish('kubernetes', [servicePort({ namespace: 'flapwatch', name: 'flapwatch', endpoints: [{ ip: '127.0.0.1', port: server.port, nodeName: 'node-b' }] })]);
  const service = { namespace: 'flapwatch', name: 'flapwatch' };
  try {
    assert.equal(peerUrl(index, service, 'node-b'), `http://127.0.0.1:${server.port}`);
    const ask = askPeers({ index, service, timeoutMs: 2000 });
    const [reply, absent] = await ask([{ node: 'node-b', addrs: [DB_POD] }, { node: 'node-c', addrs: ['10.244.3.3'] }], { from: 2500, to: 6000 });
    assert.equal(reply!.answered, true);
    assert.equal(reply!.complete, true);
    assert.deepEqual(reply!.items.map((i) => [i.kind, i.daddr, i.count]), [['retransmit', DB_POD, 2]]);
    assert.deepEqual(absent, { node: 'node-c', answered: false, complete: false, items: [], error: 'no flapwatch of node-c in flapwatch/flapwatch' });
    // a question without an address is refused
    assert.equal((await fetch(`http://127.0.0.1:${server.port}/peer/evidence?from=1&to=2`)).status, 404);
  } finally {
    await server.close();
  }
});

test('a node whose flapwatch hangs is said not to have answered, within the timeout', async () => {
  const hang = createServer(() => undefined);
  await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
  const port = (hang.address() as AddressInfo).port;
  const index = new ServiceIndex();
  index.publish('kubernetes', [servicePort({ namespace: 'flapwatch', name: 'flapwatch', endpoints: [{ ip: '127.0.0.1', port, nodeName: 'node-b' }] })]);
  try {
    const [reply] = await askPeers({ index, service: { namespace: 'flapwatch', name: 'flapwatch' }, timeoutMs: 200 })([{ node: 'node-b', addrs: [DB_POD] }], { from: 0, to: 1 });
    assert.equal(reply!.answered, false);
    assert.match(reply!.error!, /timeout|aborted/i);
  } finally {
    hang.closeAllConnections();
    await new Promise((r) => hang.close(r));
  }
});
