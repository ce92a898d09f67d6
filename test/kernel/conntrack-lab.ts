// A throwaway netns whose conntrack table fills on demand: UDP sent to 10.9.0.0/16 or fd09::/64 leaves
// through a veth whose peer is down, so every flow stays UNREPLIED; TCP over lo completes (ASSURED).
import { randomBytes } from 'node:crypto';
import { nsRun, run } from '../lab/netns';

export const V4_PREFIX = '10.9.';
export const V6_PREFIX = 'fd09::';

export interface ConntrackLab {
  ns: string;
  remove(): Promise<void>;
}

export async function conntrackLab(prefix: string): Promise<ConntrackLab> {
  const ns = `${prefix}${randomBytes(4).toString('hex')}`;
  await run('ip', ['netns', 'add', ns]);
  const lab = { ns, remove: () => run('ip', ['netns', 'del', ns]).then(() => undefined) };
  try {
    const ip = (...args: string[]) => nsRun(ns, 'ip', args);
    await ip('link', 'set', 'lo', 'up');
    await ip('link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1');
    await ip('link', 'set', 'v0', 'up');
    await ip('addr', 'add', '10.8.0.1/24', 'dev', 'v0');
    await ip('-6', 'addr', 'add', 'fd08::1/64', 'dev', 'v0', 'nodad');
    // one permanent next hop, so no neighbour entry per destination and no ARP/ND waiting
    await ip('neigh', 'add', '10.8.0.2', 'lladdr', '02:00:00:00:00:02', 'dev', 'v0', 'nud', 'permanent');
    await ip('-6', 'neigh', 'add', 'fd08::2', 'lladdr', '02:00:00:00:00:02', 'dev', 'v0', 'nud', 'permanent');
    await ip('route', 'add', '10.9.0.0/16', 'via', '10.8.0.2');
    await ip('-6', 'route', 'add', 'fd09::/64', 'via', 'fd08::2');
    // conntrack runs in a netns only once a rule there needs it
    await nsRun(ns, 'nft', ['-f', '-'], {
      input: 'table inet fwct {\n chain out {\n  type filter hook output priority 0;\n  ct state new counter\n }\n}\n',
    });
    // entries outlive the test or benchmark that made them
    await nsRun(ns, 'sysctl', ['-q', '-w', 'net.netfilter.nf_conntrack_udp_timeout=600',
      'net.netfilter.nf_conntrack_tcp_timeout_time_wait=600']);
    return lab;
  } catch (err) {
    await lab.remove().catch(() => undefined);
    throw err;
  }
}
