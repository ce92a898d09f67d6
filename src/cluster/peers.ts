// The other nodes' flapwatch, found through the Kubernetes API and asked over one small HTTP call. The daemons'
// own headless Service (flapwatch/flapwatch by default) has one endpoint per node, each with its nodeName and the
// address the daemon listens on; a question names a few pod addresses and a window, and the answer is that node's
// evidence for them (report/api.ts, /peer/evidence). A node that does not answer in time is said so, never waited on.
import { hostPort } from '../observe/net';
import { describe } from '../observe/errors';
import type { ServiceRef } from '../observe/objects';
import type { EvidenceItem } from '../correlate/evidence';
import type { AskPeers, PeerAsk, PeerReply, Window } from '../correlate/remote';
import type { ServiceIndex } from '../services/index';

export interface PeerOptions {
  index: ServiceIndex;
  /** the daemons' headless Service */
  service: ServiceRef;
  /** a question takes at most this long, answer included */
  timeoutMs: number;
  /** largest answer accepted */
  maxBytes?: number;
}

/** The daemon of `node`: its endpoint in the daemons' Service. */
export function peerUrl(index: ServiceIndex, service: ServiceRef, node: string): string | undefined {
  for (const p of index.byName(service.namespace, service.name)) {
    const e = p.endpoints.find((x) => x.nodeName === node && x.ready !== false);
    if (e) return `http://${hostPort(e)}`;
  }
  return undefined;
}

async function ask(url: string, q: PeerAsk, w: Window, o: PeerOptions): Promise<PeerReply> {
  const params = new URLSearchParams([...q.addrs.map((a): [string, string] => ['addr', a]), ['from', String(w.from)], ['to', String(w.to)]]);
  const res = await fetch(`${url}/peer/evidence?${params}`, { signal: AbortSignal.timeout(o.timeoutMs) });
  if (!res.ok) throw new Error(`answered ${res.status}`);
  const text = await res.text();
  if (text.length > (o.maxBytes ?? 1 << 20)) throw new Error('answered too much');
  const body = JSON.parse(text) as { complete?: unknown; items?: unknown };
  if (!Array.isArray(body.items)) throw new Error('answered no evidence list');
  return { node: q.node, answered: true, complete: body.complete === true, items: body.items as EvidenceItem[] };
}

/** Asks every node at once; each answers, or is said not to have, within the timeout. */
export function askPeers(o: PeerOptions): AskPeers {
  return (asks, window) => Promise.all(asks.map(async (q): Promise<PeerReply> => {
    const url = peerUrl(o.index, o.service, q.node);
    if (!url) return { node: q.node, answered: false, complete: false, items: [], error: `no flapwatch of ${q.node} in ${o.service.namespace}/${o.service.name}` };
    try {
      return await ask(url, q, window, o);
    } catch (err) {
      return { node: q.node, answered: false, complete: false, items: [], error: describe(err) };
    }
  }));
}
