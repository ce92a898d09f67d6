// A failure on one node whose cause is on another, end to end in the lab of three nodes (root only): web-0 on
// node-a calls db, whose only pod is on node-b, across the VXLAN overlay. node-a's daemon sees only SYNs that go
// unanswered; node-b's holds the answer. The daemons find each other through the API and name the node.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { eventually, kernelSkip } from '../helpers/env';
import { ClusterLab } from '../lab/cluster-lab';
import type { ClusterKube } from '../lab/cluster-kube';
import type { Undo } from '../lab/registry';

interface Incident {
  msg: string;
  verdict: string;
  service?: string;
  node?: string;
  between?: boolean;
  peers?: { asked: string[]; unanswered: string[] };
  evidence: { node?: string; kind: string }[];
  time: number;
}

describe('across nodes: the node where the loss happened', { skip: kernelSkip, timeout: 600_000 }, () => {
  let lab: ClusterLab;
  let kube: ClusterKube;
  before(async () => {
    lab = await ClusterLab.create({
      nodes: [{ pods: ['shop/web-0'] }, { pods: ['shop/db-0'] }, { pods: ['shop/other-0'] }],
      services: [
        { namespace: 'shop', name: 'web', portName: 'http', endpoints: ['shop/web-0'] },
        { namespace: 'shop', name: 'db', portName: 'http', endpoints: ['shop/db-0'] },
        { namespace: 'shop', name: 'other', portName: 'http', endpoints: ['shop/other-0'] },
      ],
      // an application's dependency check waits long enough for TCP to retransmit a SYN; kubelet waits for its answer
      dependencies: [{ pod: 'shop/web-0', service: 'shop/db', timeoutMs: 2500 }],
    });
    kube = await lab.startKube({ probe: { timeoutSeconds: 4, periodSeconds: 2 } });
    await kube.startDaemons();
    await eventually(() => kube.kubelet('node-a').prober.results[0]!.length >= 3 && kube.kubelet('node-a').prober.results[0]!.slice(-3).every(Boolean), 'web to pass its probes', 30_000);
  });
  after(async () => {
    await lab?.destroy();
  });

  const webIncidents = () => (kube.daemon('node-a').incidents() as unknown as Incident[]).filter((i) => i.service === 'web');

  /** Injects a fault until web's incidents on node-a satisfy `done`; returns them. */
  async function scenario(inject: () => Promise<Undo>, done: (i: Incident) => boolean, what: string): Promise<Incident[]> {
    const seen = webIncidents().length;
    const undo = await inject();
    let found: Incident[] = [];
    try {
      await eventually(() => (found = webIncidents().slice(seen)).some(done), what, 60_000).catch((err: Error) => {
        throw new Error(`${err.message}; web's incidents: ${JSON.stringify(found.map((i) => [i.verdict, i.msg]), null, 1)}`);
      });
    } finally {
      await undo();
    }
    await eventually(() => kube.kubelet('node-a').prober.results[0]!.slice(-3).every(Boolean), 'web to pass its probes again', 60_000);
    return found;
  }

  test('db\'s pod on node-b stops accepting: node-a names the listen overflow on node-b', async () => {
    const db = lab.pod('shop/db-0');
    const found = await scenario(() => db.node.lab.stopAccepting(db.index), (i) => i.verdict === 'listen-overflow' && i.node === 'node-b', 'a listen-overflow on node-b');
    const i = found.find((x) => x.verdict === 'listen-overflow' && x.node === 'node-b')!;
    assert.match(i.msg, /SYNs lost to a full accept queue: pod shop\/db-0: .* on node-b/);
    assert.deepEqual(i.peers?.asked, ['node-b']);
  });

  test('the overlay between node-a and node-b drops: nothing on either node, loss between them', async () => {
    const found = await scenario(() => lab.dropOnOverlay('node-a', 'node-b', 1), (i) => i.between === true, 'loss between the nodes');
    const i = found.find((x) => x.between)!;
    assert.equal(i.verdict, 'retransmits');
    assert.match(i.msg, /loss outside the nodes \(the network between them\)/);
  });

  test('node-b\'s flapwatch is down: the local verdict, and node-b did not answer', async () => {
    const b = kube.daemon('node-b');
    await b.stop();
    const db = lab.pod('shop/db-0');
    const found = await scenario(() => db.node.lab.stopAccepting(db.index), (i) => (i.peers?.unanswered ?? []).includes('node-b'), 'node-b not answering');
    const i = found.find((x) => x.peers?.unanswered.includes('node-b'))!;
    assert.match(i.msg, /node-b did not answer/);
  });
});
