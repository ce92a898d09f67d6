// Readers of a network namespace's /proc/<pid>/net files: TcpExt counters of /proc/net/netstat, and the
// namespace's own addresses (LOCAL host routes of fib_trie, global addresses of if_inet6).

/**
 * The TcpExt counters `names` from /proc/net/netstat (a `TcpExt: Name …` line, then `TcpExt: value …`); a name the
 * kernel does not list is absent. Only the TcpExt pair is split: the file is read for every pod at every interval.
 */
export function tcpExtCounters(text: string, names: readonly string[]): Map<string, number> {
  const out = new Map<string, number>();
  const head = text.startsWith('TcpExt: ') ? 0 : text.indexOf('\nTcpExt: ') + 1; // 0 again when absent
  if (!text.startsWith('TcpExt: ', head)) return out;
  const headEnd = text.indexOf('\n', head);
  const valuesEnd = text.indexOf('\n', headEnd + 1);
  if (headEnd < 0 || !text.startsWith('TcpExt: ', headEnd + 1)) return out;
  const keys = text.slice(head, headEnd).split(' ');
  const values = text.slice(headEnd + 1, valuesEnd < 0 ? text.length : valuesEnd).split(' ');
  for (const name of names) {
    const i = keys.indexOf(name);
    const v = i > 0 ? Number(values[i]) : NaN;
    if (Number.isFinite(v)) out.set(name, v);
  }
  return out;
}

/** The namespace's own IPv4 addresses: fib_trie's `/32 host LOCAL` leaves, loopback left out. */
export function localAddrsFromFibTrie(text: string): string[] {
  const out = new Set<string>();
  let last = '';
  for (const line of text.split('\n')) {
    const leaf = /\|-- (\d+\.\d+\.\d+\.\d+)/.exec(line);
    if (leaf) last = leaf[1] as string;
    else if (line.includes('/32 host LOCAL') && last && !last.startsWith('127.')) out.add(last);
  }
  return [...out];
}

/** Global-scope IPv6 addresses of if_inet6 (`<32 hex> ifindex prefixlen scope flags name`), in canonical form. */
export function addrsFromIfInet6(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const [hex, , , scope] = line.trim().split(/\s+/);
    if (!hex || hex.length !== 32 || scope !== '00') continue;
    const groups = hex.match(/.{4}/g) as string[];
    // the URL parser writes IPv6 in RFC 5952 form (fd00::a), as Kubernetes lists pod IPs
    out.push(new URL(`http://[${groups.join(':')}]`).hostname.slice(1, -1));
  }
  return out;
}
