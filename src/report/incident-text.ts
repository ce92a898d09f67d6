// An incident in plain words, message first: what failed, then what the network did on its path (or that it
// did nothing), with counts, places and the window.
import type { Incident } from '../correlate/incident';
import type { PathEvidence } from '../correlate/verdict';

const seconds = (ms: number) => `${Math.round(ms / 100) / 10}s`;

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** `to shop/db (10.96.0.20:5432)` — the Service and the address it was sent to */
function towards(e: PathEvidence): string {
  if (e.service && e.dst) return ` to ${e.service} (${e.dst})`;
  if (e.service) return ` for ${e.service}`;
  return e.dst ? ` to ${e.dst}` : '';
}

export function describeEvidence(e: PathEvidence): string {
  const said = e.node ? `${describeItem(e)} on ${e.node}` : describeItem(e);
  return e.consequence ? `${said} (a consequence of the failure: the check had already given up)` : said;
}

function describeItem(e: PathEvidence): string {
  const where = towards(e);
  switch (e.kind) {
    case 'drop': {
      const m = e.mechanisms[0];
      const also = e.mechanisms.length > 1 ? ` (or ${e.mechanisms.slice(1).join(', ')}: the evidence cannot tell)` : '';
      const what = plural(e.count, 'packet');
      if (m === 'no-endpoints') return `${what}${where} rejected: the Service has no endpoints (${e.detail})`;
      if (m === 'conntrack-table-full') return `${what}${where} dropped: conntrack table full${also}`;
      if (m === 'conntrack-insert-failed') return `${what}${where} lost to conntrack insert failures${also}`;
      if (m === 'conntrack-invalid') return `${what}${where} dropped as conntrack INVALID (${e.detail})${also}`;
      if (m === 'netfilter-drop') return `${what}${where} dropped by a netfilter rule (${e.detail}, ${e.location})${also}`;
      return `${what}${where} dropped by the kernel: ${e.reason} in ${e.location}`;
    }
    case 'listen-overflow':
      return `SYNs lost to a full accept queue: ${e.detail}${e.service ? ` (${e.service})` : ''}`;
    case 'retransmit':
      return e.onHost
        ? `${plural(e.count, 'TCP retransmission')}${where} (${e.detail}), an address on this host, and no drop seen: the receiver did not answer`
        : `${plural(e.count, 'TCP retransmission')}${where} (${e.detail}) and no local drop: loss beyond this node`;
    case 'unanswered':
      return `${plural(e.count, 'flow')}${where} died without a reply`;
    case 'rule':
      return `${plural(e.count, 'packet')} on kube-proxy's ${e.detail}${e.service ? ` (${e.service})` : ''}`;
    case 'cpu-throttle': {
      const c = e.cpu!;
      return `${e.detail} was CPU-throttled in ${c.throttledPeriods} of ${c.periods} periods (${Math.round(100 * c.throttledShare)}%): `
        + `held back ${seconds(c.throttledMs)} against the probe's ${seconds(c.timeoutMs)} timeout, and no packet was lost`;
    }
  }
}

function rootOf(i: Incident): string {
  return i.cascade ? `; the cascade's root: ${i.cascade.root} (${i.cascade.chain.join(' → ')})` : '';
}

export function incidentMessage(i: Incident): string {
  const who = i.service?.namespace ? `${i.service.namespace}/${i.service.name}` : i.pod ? `${i.pod.namespace}/${i.pod.name}` : (i.service?.name ?? i.target ?? 'a check');
  const probe = i.path ? `${i.probe} via ${i.path === 'cluster_ip' ? 'the ClusterIP' : i.path === 'pod' ? 'the pod' : 'its URL'}` : i.probe;
  const head = `${who} ${probe} failed (${i.failure.detail.slice(0, 160)})`;
  const window = `in the ${seconds(i.window.to - i.window.from)} around it`;
  const top = i.evidence[0];
  if (i.verdict === 'none' || !top) {
    const deps = i.failedDependencies?.length ? `; its payload says ${i.failedDependencies.join(', ')} failed` : '';
    return `${head}: no packet was lost on its path ${window}: look at the application${deps}${rootOf(i)}`;
  }
  const more = i.evidence.length > 1 ? ` (+${i.evidence.length - 1} more)` : '';
  const retry = i.retry ? (i.retry.ok ? '; an immediate retry succeeded: retries would have hidden it' : '; an immediate retry failed too') : '';
  const what = i.between && top.kind === 'retransmit'
    ? `${plural(top.count, 'TCP retransmission')}${towards(top)} (${top.detail}) and no drop on any node asked (${i.peers!.asked.join(', ')}): loss outside the nodes (the network between them)`
    : describeEvidence(top);
  const silent = i.peers?.unanswered.length ? `; ${i.peers.unanswered.join(', ')} did not answer` : '';
  return `${head}: ${what} ${window}${more}${retry}${silent}${rootOf(i)}`;
}
