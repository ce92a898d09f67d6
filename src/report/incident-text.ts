// An incident in plain words, message first: what failed, then what the network did on its path (or that it
// did nothing), with counts, places and the window.
import type { Incident } from '../correlate/incident';
import type { DnsTrouble } from '../correlate/dns';
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

/** How a drop lost its packets: `dropped by a netfilter rule (…)`, `rejected: the Service has no endpoints (…)` */
function dropped(d: Pick<PathEvidence, 'mechanisms' | 'detail' | 'location' | 'reason'>): string {
  const m = d.mechanisms[0];
  const also = d.mechanisms.length > 1 ? ` (or ${d.mechanisms.slice(1).join(', ')}: the evidence cannot tell)` : '';
  if (m === 'no-endpoints') return `rejected: the Service has no endpoints (${d.detail})`;
  if (m === 'conntrack-table-full') return `dropped: conntrack table full${also}`;
  if (m === 'conntrack-insert-failed') return `lost to conntrack insert failures${also}`;
  if (m === 'conntrack-invalid') return `dropped as conntrack INVALID (${d.detail})${also}`;
  if (m === 'netfilter-drop') return `dropped by a netfilter rule (${d.detail}, ${d.location})${also}`;
  return `dropped by the kernel: ${d.reason} in ${d.location}`;
}

/** `5 DNS queries from shop/api-0 to kube-system/kube-dns (10.96.0.10:53) unanswered for 1 s (2 for 5 s): …` */
function dnsTimeout(e: PathEvidence, t: DnsTrouble): string {
  const longer = t.unanswered ? ` (${t.unanswered} for 5 s)` : '';
  const why = t.dropped.length
    ? `, explained by the node: ${t.dropped.map((d) => `${plural(d.count, 'packet')} ${dropped(d)}`).join('; ')}`
    : ', and no packet of them dropped on this node: the DNS server did not answer, or they were lost beyond this node';
  return `${plural(e.count, 'DNS query', 'DNS queries')} from ${t.client}${towards(e)} unanswered for 1 s${longer}${why}`;
}

function dnsError(e: PathEvidence, t: DnsTrouble): string {
  const answers = [t.servfail && `${t.servfail} SERVFAIL`, t.notFound && `${t.notFound} NXDOMAIN and no name found`].filter(Boolean).join(', ');
  return `DNS queries from ${t.client}${towards(e)} answered ${answers}: the name did not resolve`;
}

function describeItem(e: PathEvidence): string {
  const where = towards(e);
  switch (e.kind) {
    case 'drop':
      return `${plural(e.count, 'packet')}${where} ${dropped(e)}`;
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
    case 'dns-timeout':
      return dnsTimeout(e, e.dns!);
    case 'dns-error':
      return dnsError(e, e.dns!);
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
