// Connect storm: short TCP connections from the lab's node to a Service through kube-proxy's rules (DNAT to two
// pods that accept and close), as fast as a few client processes make them — with no flapwatch, with flapwatch
// without its connection tracker, and with it, in interleaved rounds; then flapwatch's CPU at slower, paced
// rates. The daemon's own counts of the storm are checked against the clients'.
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildCTool } from '../test/lab/c-tools';
import { Lab } from '../test/lab/lab';
import { nsRun, sysctlSet } from '../test/lab/netns';
import { median, startFlapwatch, stopChild } from './daemon';
import { cores, cpuSeconds, memoryMB } from './proc';
import type { Bench } from './types';

const SECONDS = 6;
const ROUNDS = 5;
const CLIENTS = 4;
const SERVER_PORT = 9100;
const PACED = [0.25, 0.5];

interface Variant {
  name: string;
  /** flapwatch's extra flags; absent: no flapwatch */
  args?: string[];
  tracks: boolean;
}

const NONE: Variant = { name: 'no flapwatch', tracks: false };
const UNTRACKED: Variant = { name: 'flapwatch --no-connections', args: ['--no-connections'], tracks: false };
const TRACKED: Variant = { name: 'flapwatch (connection tracking)', args: [], tracks: true };

export interface Storm {
  connects: number;
  failed: number;
  seconds: number;
  rate: number;
}

interface Run extends Storm {
  user: number;
  sys: number;
  rss: number;
  /** connects the daemon counted on the storm's edge (attempted), when it tracks them */
  counted?: number;
}

/** The value `read` gives once two reads an interval and more apart agree (the daemon lags behind a storm). */
async function settled(read: () => Promise<number>): Promise<number> {
  let last = -1;
  for (let i = 0; i < 20; i++) {
    const now = await read();
    if (now === last) return now;
    last = now;
    await sleep(1500);
  }
  return last;
}

/** The attempted connects flapwatch_edge_connections_total holds for the storm's Service. */
async function counted(listen: string): Promise<number> {
  const text = await (await fetch(`http://${listen}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('flapwatch_edge_connections_total{') && l.includes('service="storm"') && l.includes('result="attempted"'));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

export interface StormLab {
  lab: Lab;
  /** connects from the node to the Service for SECONDS; `rate` connects/s in all (0: as fast as they go) */
  storm(rate?: number): Promise<Storm>;
  destroy(): Promise<void>;
}

/** The lab's node with one Service (DNAT to two pods that accept and close) and the tools to storm it. */
export async function stormLab(): Promise<StormLab> {
  const tool = await buildCTool('bench/connstorm.c');
  const lab = await Lab.create({
    pods: 2,
    services: [{ name: 'storm', namespace: 'bench', portName: 'tcp', endpoints: [{ podIndex: 0, port: SERVER_PORT }, { podIndex: 1, port: SERVER_PORT }] }],
  });
  const servers: ChildProcess[] = [];
  const destroy = async () => {
    for (const s of servers) s.kill('SIGKILL');
    await lab.destroy();
  };
  try {
    // the node is the client: its ports come back at once (TIME_WAIT reuse), its conntrack forgets closed flows in a second
    await sysctlSet(lab.node, 'net.ipv4.tcp_tw_reuse', 1);
    await sysctlSet(lab.node, 'net.ipv4.ip_local_port_range', '1024 65535');
    for (const state of ['time_wait', 'close', 'close_wait', 'fin_wait', 'last_ack']) await sysctlSet(lab.node, `net.netfilter.nf_conntrack_tcp_timeout_${state}`, 1);
    for (const pod of lab.pods) {
      const server = spawn('ip', ['netns', 'exec', pod, tool, 'serve', String(SERVER_PORT)], { stdio: ['ignore', 'pipe', 'inherit'] });
      servers.push(server);
      await new Promise((resolve) => server.stdout!.once('data', resolve));
    }
  } catch (err) {
    await destroy();
    throw err;
  }
  const svc = lab.service('bench/storm');
  const storm = async (rate = 0): Promise<Storm> =>
    JSON.parse((await nsRun(lab.node, tool, ['connect', svc.clusterIP, String(svc.port), String(SECONDS), String(CLIENTS), String(rate)], { timeoutMs: (SECONDS + 30) * 1000 })).stdout) as Storm;
  return { lab, storm, destroy };
}

export async function connectStorm(): Promise<Bench> {
  const { lab, storm, destroy } = await stormLab();
  try {
    const { nodeIp } = await lab.linkToHost();
    let port = 19_700;
    const once = async (v: Variant, rate = 0): Promise<Run> => {
      const listen = `${nodeIp}:${port++}`;
      const ready = v.tracks ? /flapwatch_source_up\{source="connections"\} 1/ : /flapwatch_source_up\{source="drops"\} 1/;
      const daemon = v.args ? await startFlapwatch({ listen, netns: lab.node, args: v.args, ready }) : undefined;
      try {
        const pid = daemon?.pid;
        if (pid) await sleep(2000); // its start-up work done
        const before = pid ? cpuSeconds(pid) : undefined;
        const s = await storm(rate);
        const used = pid && before ? cores(before, cpuSeconds(pid), s.seconds) : { user: 0, sys: 0 };
        const rss = pid ? memoryMB(pid).rss : 0;
        return { ...s, ...used, rss, ...(v.tracks && { counted: await settled(() => counted(listen)) }) };
      } finally {
        if (daemon) await stopChild(daemon);
      }
    };

    await storm(); // warm: conntrack and the servers' first accepts
    const variants = [NONE, UNTRACKED, TRACKED];
    const runs = new Map<string, Run[]>(variants.map((v) => [v.name, []]));
    for (let round = 0; round < ROUNDS; round++) for (const v of variants) runs.get(v.name)!.push(await once(v));
    const maxRate = median(runs.get(NONE.name)!.map((r) => r.rate));
    const paced = [];
    for (const share of PACED) paced.push({ share, run: await once(TRACKED, Math.round(maxRate * share)) });

    const m = (rs: Run[], f: (r: Run) => number) => median(rs.map(f));
    const cpu = (r: Run) => `${r.user.toFixed(3)} + ${r.sys.toFixed(3)}`;
    const rows: string[][] = variants.map((v) => {
      const rs = runs.get(v.name)!;
      const mid = [...rs].sort((a, b) => a.rate - b.rate)[rs.length >> 1]!;
      return [
        v.name, 'as fast as they go', Math.round(m(rs, (r) => r.rate)).toLocaleString('en-US'), rs.map((r) => Math.round(r.rate / 1000)).join(' / '),
        `${(m(rs, (r) => r.rate) / maxRate).toFixed(3)}`, v.args ? cpu(mid) : '–', v.args ? mid.rss.toFixed(1) : '–',
        mid.counted === undefined ? '–' : `${mid.counted.toLocaleString('en-US')} of ${(mid.connects + mid.failed).toLocaleString('en-US')}`,
      ];
    });
    for (const { share, run } of paced) {
      rows.push([
        TRACKED.name, `paced at ${share * 100}% (${Math.round(maxRate * share).toLocaleString('en-US')}/s)`, Math.round(run.rate).toLocaleString('en-US'), '–',
        (run.rate / maxRate).toFixed(3), cpu(run), run.rss.toFixed(1), `${(run.counted ?? 0).toLocaleString('en-US')} of ${(run.connects + run.failed).toLocaleString('en-US')}`,
      ]);
    }
    const tracked = runs.get(TRACKED.name)!;
    // each round's pair, run a minute apart at most: the machine's other load moves both alike
    const pairs = tracked.map((r, i) => r.rate / runs.get(NONE.name)![i]!.rate);
    const ratio = median(pairs);
    const users = [...paced.map((p) => p.run.user), m(tracked, (r) => r.user)];
    const failed = [...runs.values()].flat().reduce((n, r) => n + r.failed, 0);
    return {
      title: `Connect storm: short TCP connections from the node to a ClusterIP (kube-proxy iptables-nft, DNAT to 2 pods), ${CLIENTS} client processes, ${SECONDS} s per run`,
      header: ['variant', 'pace', 'connects/s (median)', 'each round, k/s', 'of the rate without flapwatch', "flapwatch's CPU, cores (user + sys)", 'RSS MB', 'connects flapwatch counted'],
      rows,
      notes: [
        `Rounds interleave the variants (${ROUNDS} each); the paced runs follow. Every connect is a full handshake and close through the node's nat OUTPUT DNAT and the bridge; the pods accept and close at once. ${failed} connects failed in all runs.`,
        'The node is the client (its own address: the edge is client_kind="Node" → bench/storm:tcp), so the daemon attributes and exports what it counts; "connects flapwatch counted" is its flapwatch_edge_connections_total{result="attempted"} after the run.',
        'The node netns reuses TIME_WAIT ports (tcp_tw_reuse=1) and forgets closed conntrack entries after 1 s, or ports and the conntrack table run out long before the CPUs do.',
        'Two CPUs carry the clients, the servers, both network stacks and the daemon: the rate is CPU-bound, and whatever the tracker costs the kernel shows as fewer connects/s.',
      ],
      floors: [
        {
          what: 'connect rate with connection tracking ≥ 0.95 of the rate without flapwatch (median of the rounds\' ratios)',
          ok: ratio >= 0.95,
          value: `${ratio.toFixed(3)} (rounds: ${pairs.map((x) => x.toFixed(2)).join(', ')})`,
        },
        {
          what: "flapwatch's user-space CPU flat in the connect rate: at full rate within 0.02 core of the slowest paced run",
          ok: Math.max(...users) - Math.min(...users) <= 0.02,
          value: users.map((u) => u.toFixed(3)).join(', '),
        },
      ],
    };
  } finally {
    await destroy();
  }
}
