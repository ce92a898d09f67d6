// Real packets through the lab's node, real drops, seen by DropSource (addon + BPF + name resolution).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { DropSource } from '../../src/kernel/drops';
import { DEFAULT_BENIGN_REASONS } from '../../src/kernel/reasons';
import type { DropObservation, DropSampleObservation, RetransmitObservation } from '../../src/observe/kernel';
import { eventually, kernelSkip } from '../helpers/env';
import { Lab } from '../lab/lab';
import { netnsInode } from '../lab/netns';

/** A DropSource that collects everything it drains. */
async function tracer(): Promise<{ source: DropSource; drops: DropObservation[]; retransmits: RetransmitObservation[]; samples: DropSampleObservation[] }> {
  const source = new DropSource({
    btfPath: '',
    maxFlows: 16384,
    maxRetransmitFlows: 4096,
    samplesPerSecond: 100,
    ringBytes: 256 * 1024,
    benignReasons: DEFAULT_BENIGN_REASONS,
    logger: pino({ level: 'silent' }),
  });
  const drops: DropObservation[] = [];
  const retransmits: RetransmitObservation[] = [];
  source.onDrops((d) => drops.push(...d));
  source.onRetransmits((r) => retransmits.push(...r));
  const samples: DropSampleObservation[] = [];
  source.onSamples((s) => samples.push(...s));
  await source.start();
  const down = source.stats().filter((s) => !s.up);
  assert.deepEqual(down, [], 'every tracer source is up');
  return { source, drops, retransmits, samples };
}

const packets = (drops: DropObservation[]) => drops.reduce((n, d) => n + d.packets, 0);

/** Drains until `select` finds at least `atLeast` packets: a packet may still be in a softirq when the sender returns. */
async function drained(
  t: { source: DropSource; drops: DropObservation[] },
  select: (d: DropObservation) => boolean,
  atLeast: number,
): Promise<DropObservation[]> {
  await eventually(async () => {
    await t.source.drain();
    return packets(t.drops.filter(select)) >= atLeast;
  }, `${atLeast} matching dropped packets`, 5000).catch(() => undefined); // the assertions below say what is missing
  return t.drops.filter(select);
}

for (const backend of ['nft', 'legacy'] as const) {
  // iptables-nft rule verdicts land in nft_do_chain, legacy ones in nf_hook_slow (docs/kernel.md)
  const ruleLocation = backend === 'nft' ? 'nft_do_chain' : 'nf_hook_slow';

  describe(`drops in the lab, iptables ${backend}`, { skip: kernelSkip }, () => {
    let lab: Lab;
    let t: Awaited<ReturnType<typeof tracer>>;
    before(async () => {
      lab = await Lab.create({ kubeProxy: `iptables-${backend}`, pods: 2, services: [{ name: 'web' }, { name: 'db', endpoints: [{ podIndex: 1, port: 8080 }] }] });
      t = await tracer();
    });
    after(async () => {
      await t?.source.stop();
      await lab?.destroy();
    });

    test('N packets into a DROP rule are N NETFILTER_DROP drops at the rule, with their tuple and netns', async () => {
      const undo = await lab.dropOnPath(0, 1);
      const before = Date.now();
      const sent = await lab.udpSend(lab.client, lab.podIp(0), 9000, 200);
      const mine = await drained(t, (d) => d.tuple.daddr === lab.podIp(0) && d.tuple.dport === 9000, 200);
      await undo();
      const sampled = () => t.samples.filter((x) => x.tuple.daddr === lab.podIp(0) && x.tuple.dport === 9000);
      await eventually(() => sampled().length > 0, 'samples of those drops');
      const after = Date.now();
      for (const x of sampled()) {
        assert.equal(x.reasonName, 'NETFILTER_DROP');
        assert.equal(x.location, ruleLocation);
        assert.equal(x.netns, lab.nodeInode);
        // wall-clock time, within a millisecond of conversion error
        assert.ok(x.at >= before - 1 && x.at <= after + 1, `sample at ${x.at}, sent between ${before} and ${after}`);
      }
      assert.equal(sent.sent, 200);
      assert.equal(packets(mine), 200);
      for (const d of mine) {
        assert.equal(d.reasonName, 'NETFILTER_DROP');
        assert.equal(d.loss, true);
        assert.equal(d.location, ruleLocation);
        assert.equal(d.netns, lab.nodeInode);
        assert.equal(d.tuple.proto, 17);
        assert.equal(d.tuple.family, 4);
        assert.match(d.tuple.saddr, /^\d+\.\d+\.\d+\.\d+$/);
        assert.ok(d.ct.present && !d.ct.confirmed, 'a first packet has an unconfirmed conntrack entry');
      }
    });

    test('a SYN dropped after DNAT carries the ClusterIP it was sent to, and the client retransmits it', async () => {
      const db = lab.service('db');
      const undo = await lab.dropOnPath(1, 1);
      const res = await lab.tcpConnect(lab.client, db.clusterIP, db.port, 2500);
      await undo();
      assert.equal(res.error, 'ETIMEDOUT');
      const syns = await drained(t, (d) => d.origDst?.ip === db.clusterIP && d.tuple.proto === 6, 2);
      assert.ok(syns.length > 0, 'drops of the SYN to the ClusterIP');
      for (const d of syns) {
        assert.equal(d.tuple.daddr, lab.podIp(1), 'the IP header shows the endpoint');
        assert.equal(d.tuple.dport, 8080);
        assert.deepEqual(d.origDst, { ip: db.clusterIP, port: db.port });
        assert.ok(d.ct.dnat && !d.ct.confirmed);
        assert.equal(d.location, ruleLocation);
      }
      assert.ok(packets(syns) >= 2, 'the first SYN and at least one retransmission were dropped');
      const clientNs = netnsInode(lab.client);
      const retx = t.retransmits.filter((r) => r.netns === clientNs && r.tuple.daddr === db.clusterIP);
      assert.ok(retx.length > 0, 'SYN retransmissions seen in the client');
      assert.equal(retx[0]!.state, 'SYN_SENT');
      assert.equal(retx[0]!.tuple.dport, db.port);
    });

    test('a datagram to a closed port is a NO_SOCKET drop in the pod', async () => {
      await lab.udpSend(lab.client, lab.podIp(0), 9, 5);
      const pod = netnsInode(lab.pods[0]!);
      const closed = await drained(t, (d) => d.netns === pod && d.tuple.dport === 9, 5);
      assert.equal(packets(closed), 5);
      assert.ok(closed.every((d) => d.reasonName === 'NO_SOCKET'));
    });
  });
}

describe('conntrack table full', { skip: kernelSkip }, () => {
  let lab: Lab;
  let t: Awaited<ReturnType<typeof tracer>>;
  before(async () => {
    lab = await Lab.create({ services: [{ name: 'web' }] });
    t = await tracer();
  });
  after(async () => {
    await t?.source.stop();
    await lab?.destroy();
  });

  test('a new flow is dropped before DNAT, without a conntrack entry, in nf_hook_slow', async () => {
    const web = lab.service('web');
    // entries that keep the node's table at the limit set below (UDP entries live 30 s)
    await lab.udpSend(lab.client, lab.podIp(0), 9100, 1);
    await lab.udpSend(lab.client, lab.podIp(1), 9101, 1);
    const undo = await lab.conntrackFull(1);
    let res;
    try {
      res = await lab.tcpConnect(lab.client, web.clusterIP, web.port, 1500);
    } finally {
      await undo();
    }
    assert.equal(res.error, 'ETIMEDOUT');
    const full = await drained(t, (d) => d.netns === lab.nodeInode && d.tuple.daddr === web.clusterIP && d.tuple.proto === 6, 1);
    assert.ok(full.length > 0, 'drops of the SYN to the ClusterIP');
    for (const d of full) {
      assert.equal(d.location, 'nf_hook_slow');
      assert.equal(d.ct.present, false);
      assert.equal(d.origDst, null);
      assert.equal(d.tuple.dport, web.port, 'no DNAT happened');
    }
  });
});
