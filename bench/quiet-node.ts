// A quiet node: the lab's node and pods with nothing sent on purpose, watched by the tracer for a while (10 minutes
// by default; QUIET_SECONDS=N for another length). What it frees there is the housekeeping of a network with
// nobody talking: neighbour discovery, IPv6 multicast listener reports, link-local chatter. None of it is loss,
// and a daemon that calls it loss cries wolf on every node.
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { DropSource } from '../src/kernel/drops';
import { DEFAULT_BENIGN_REASONS } from '../src/kernel/reasons';
import type { DropObservation } from '../src/observe/kernel';
import { protoName } from '../src/observe/net';
import { Lab } from '../test/lab/lab';
import { netnsInode } from '../test/lab/netns';
import type { Bench } from './types';

export async function quietNode(): Promise<Bench> {
  const seconds = Number(process.env.QUIET_SECONDS ?? 600);
  const lab = await Lab.create({ pods: 2 });
  const source = new DropSource({
    btfPath: '', maxFlows: 16384, maxRetransmitFlows: 4096, samplesPerSecond: 0, ringBytes: 4096,
    benignReasons: DEFAULT_BENIGN_REASONS, logger: pino({ level: 'silent' }),
  });
  const seen = new Map<string, { reason: string; location: string; to: string; loss: boolean; packets: number }>();
  try {
    const ours = new Set([lab.node, lab.client, ...lab.pods].map(netnsInode));
    source.onDrops((items: DropObservation[]) => {
      for (const d of items) {
        if (!ours.has(d.netns)) continue;
        const to = `${protoName(d.tuple.proto)} to ${d.tuple.daddr}`;
        const key = `${d.reasonName} ${d.location} ${to} ${d.loss}`;
        const row = seen.get(key) ?? seen.set(key, { reason: d.reasonName, location: d.location, to, loss: d.loss, packets: 0 }).get(key)!;
        row.packets += d.packets;
      }
    });
    await source.start();
    for (const end = Date.now() + seconds * 1000; Date.now() < end;) {
      await sleep(1000);
      await source.drain();
    }
  } finally {
    await source.stop();
    await lab.destroy();
  }
  const rows = [...seen.values()].sort((a, b) => b.packets - a.packets);
  const loss = rows.filter((r) => r.loss).reduce((n, r) => n + r.packets, 0);
  return {
    title: `A quiet lab node: what the kernel frees in ${seconds / 60} minutes with nothing sent`,
    header: ['reason', 'location', 'packets to', 'packets', 'counted as loss'],
    rows: rows.map((r) => [r.reason, r.location, r.to, String(r.packets), r.loss ? 'yes' : 'no']),
    floors: [{ what: 'packets counted as loss on a quiet node = 0', ok: loss === 0, value: String(loss) }],
    notes: ['The lab: a node namespace, two pods and a client behind a bridge, IPv4 and IPv6 link-local addresses; only its namespaces are counted (other tests may run on the machine).'],
  };
}
