// The network between a ClusterLab's nodes, as flannel's vxlan backend builds it on a flat L2 underlay:
// - the underlay: a bridge in its own netns (PREFIX-ul), a veth per node (eth0 in the node, 172.30.K.N/24), and a
//   veth to the machine's own netns (172.30.K.253) for the test's servers; the bridge itself holds 172.30.K.254,
//   where underlay-side services (Prometheus) listen;
// - the overlay: one vxlan device per node (flannel.1, VNI 1, UDP 4789, no learning), holding the node's pod CIDR's
//   .0/32, with a route to every other node's pod CIDR through it, and the permanent neighbour and FDB entries that
//   flanneld writes (the peer VTEP's MAC, and which underlay address that MAC lives behind); its MTU is the
//   underlay's minus the 50 bytes of VXLAN over IPv4 (outer IP 20 + UDP 8 + VXLAN 8 + inner Ethernet 14).
// Faults between two nodes are nft rules in the bridge family of the underlay's netns: neither node's netfilter
// sees them, as with loss in the network between real nodes.
import { nsRun, run } from './netns';
import { once, type Undo } from './registry';

export const VXLAN_DEV = 'flannel.1';
export const VXLAN_PORT = 4789;
export const VXLAN_OVERHEAD = 50;
const UNDERLAY_MTU = 1500;
const FAULTS = ['bridge', 'overlay-faults'];

/** A node as the overlay sees it. */
export interface OverlayNode {
  netns: string;
  /** the node's address on the underlay */
  ip: string;
  /** the first three octets of its /24 pod CIDR */
  podNet: string;
}

export interface DeviceCounters { rxPackets: number; txPackets: number; rxBytes: number; txBytes: number; txDropped: number }

/** A locally administered MAC from the node's underlay address, as unique as the address. */
function vtepMac(ip: string): string {
  return ['02', '00', ...ip.split('.').map((o) => Number(o).toString(16).padStart(2, '0'))].join(':');
}

export class Underlay {
  readonly netns: string;
  /** the machine's side of its link to the underlay: where the test's servers (API, kubelets) listen */
  readonly hostIp: string;
  /** the underlay bridge's own address, in its netns */
  readonly bridgeIp: string;
  readonly mtu = UNDERLAY_MTU - VXLAN_OVERHEAD;
  private readonly net: string;
  private faultId = 0;

  /** `subnet` is the K of 172.30.K.0/24. */
  constructor(private readonly prefix: string, subnet: number) {
    this.netns = `${prefix}-ul`;
    this.net = `172.30.${subnet}`;
    this.hostIp = `${this.net}.253`;
    this.bridgeIp = `${this.net}.254`;
  }

  /** The underlay address of the node with this index (0-based). */
  nodeIp(index: number): string {
    if (!Number.isInteger(index) || index < 0 || index > 200) throw new Error(`Underlay: node index must be 0..200, got ${index}`);
    return `${this.net}.${index + 1}`;
  }

  async create(): Promise<void> {
    const ul = this.netns;
    await run('ip', ['netns', 'add', ul]);
    await run('ip', ['-n', ul, 'link', 'set', 'lo', 'up']);
    await run('ip', ['-n', ul, 'link', 'add', 'br0', 'type', 'bridge']);
    await run('ip', ['-n', ul, 'addr', 'add', `${this.bridgeIp}/24`, 'dev', 'br0']);
    await run('ip', ['-n', ul, 'link', 'set', 'br0', 'up']);
    // the machine's end is named PREFIXu: destroy() and the sweep remove links by their lab's prefix
    const hostDev = `${this.prefix}u`;
    await run('ip', ['link', 'add', hostDev, 'type', 'veth', 'peer', 'name', 'host', 'netns', ul]);
    await run('ip', ['-n', ul, 'link', 'set', 'host', 'master', 'br0', 'up']);
    await run('ip', ['addr', 'add', `${this.hostIp}/24`, 'dev', hostDev]);
    await run('ip', ['link', 'set', hostDev, 'up']);
    await nsRun(ul, 'nft', ['-f', '-'], { input: `add table ${FAULTS.join(' ')}\nadd chain ${FAULTS.join(' ')} forward { type filter hook forward priority 0; }\n` });
  }

  /** Plugs a node in: eth0 on the underlay, and its VTEP. */
  async attach(node: OverlayNode, index: number): Promise<void> {
    const ipn = (...args: string[]) => run('ip', ['-n', node.netns, ...args]);
    await run('ip', ['-n', this.netns, 'link', 'add', `n${index}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', node.netns]);
    await run('ip', ['-n', this.netns, 'link', 'set', `n${index}`, 'master', 'br0', 'up']);
    await ipn('addr', 'add', `${node.ip}/24`, 'dev', 'eth0');
    await ipn('link', 'set', 'eth0', 'up');
    await ipn('link', 'add', VXLAN_DEV, 'address', vtepMac(node.ip), 'type', 'vxlan', 'id', '1', 'local', node.ip, 'dev', 'eth0',
      'dstport', String(VXLAN_PORT), 'nolearning');
    await ipn('link', 'set', VXLAN_DEV, 'mtu', String(this.mtu), 'up');
    await ipn('addr', 'add', `${node.podNet}.0/32`, 'dev', VXLAN_DEV);
  }

  /** What flanneld writes on `node` for each other node: route, neighbour, FDB entry. */
  async peer(node: OverlayNode, other: OverlayNode): Promise<void> {
    const gateway = `${other.podNet}.0`;
    await run('ip', ['-n', node.netns, 'route', 'add', `${other.podNet}.0/24`, 'via', gateway, 'dev', VXLAN_DEV, 'onlink']);
    await run('ip', ['-n', node.netns, 'neigh', 'add', gateway, 'lladdr', vtepMac(other.ip), 'dev', VXLAN_DEV, 'nud', 'permanent']);
    await run('bridge', ['-n', node.netns, 'fdb', 'append', vtepMac(other.ip), 'dev', VXLAN_DEV, 'dst', other.ip]);
  }

  /**
   * Drops VXLAN packets between two nodes' underlay addresses with probability p, in both directions, on the
   * underlay bridge: the overlay between them loses packets, and every other pair keeps its own.
   */
  async dropBetween(a: string, b: string, probability: number): Promise<Undo> {
    if (!(probability > 0 && probability <= 1)) throw new Error(`Underlay: probability must be in (0, 1], got ${probability}`);
    const tag = `fault-${++this.faultId}`;
    const chance = probability === 1 ? '' : `numgen random mod 1000000 < ${Math.round(probability * 1_000_000)} `;
    const rule = (src: string, dst: string) =>
      `add rule ${FAULTS.join(' ')} forward ip saddr ${src} ip daddr ${dst} udp dport ${VXLAN_PORT} ${chance}counter drop comment "${tag}"\n`;
    await nsRun(this.netns, 'nft', ['-f', '-'], { input: rule(a, b) + rule(b, a) });
    return once(async () => {
      const listing = (await nsRun(this.netns, 'nft', ['-a', 'list', 'chain', ...FAULTS, 'forward'])).stdout;
      const handles = [...listing.matchAll(new RegExp(`comment "${tag}" # handle (\\d+)`, 'g'))].map((m) => m[1] as string);
      for (const handle of handles) await nsRun(this.netns, 'nft', ['delete', 'rule', ...FAULTS, 'forward', 'handle', handle]);
    });
  }

  /** Packets the underlay's fault rules dropped so far (their counters). */
  async droppedByFaults(): Promise<number> {
    const listing = (await nsRun(this.netns, 'nft', ['list', 'chain', ...FAULTS, 'forward'])).stdout;
    return [...listing.matchAll(/counter packets (\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
  }
}

/** A node's vxlan device counters (the kernel's, from `ip -s -j link`). */
export async function vxlanCounters(netns: string): Promise<DeviceCounters> {
  const [link] = JSON.parse((await run('ip', ['-n', netns, '-s', '-j', 'link', 'show', VXLAN_DEV])).stdout) as {
    stats64: { rx: { packets: number; bytes: number }; tx: { packets: number; bytes: number; dropped: number } };
  }[];
  if (!link) throw new Error(`no ${VXLAN_DEV} in ${netns}`);
  const { rx, tx } = link.stats64;
  return { rxPackets: rx.packets, txPackets: tx.packets, rxBytes: rx.bytes, txBytes: tx.bytes, txDropped: tx.dropped };
}
