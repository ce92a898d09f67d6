// Connect storm: short TCP connections from the lab's node to a Service through kube-proxy's rules (DNAT to two
// pods that accept and close). The rate with flapwatch against the rate without it, and the daemon's user-space CPU
// at three rates; on two shared CPUs the rate moves with whatever else the machine runs, so CPU is also counted per
// connect: what a connect costs the storm's own processes without flapwatch,
// against what the tracker adds — its BPF program's time per connect (bpf_stats, in the daemon as it ships) and
// the daemon's extra CPU per connect over the same daemon without its tracker, at paced rates.
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { programIdsHeldBy } from '../test/helpers/env';
import { buildCTool } from '../test/lab/c-tools';
import { Lab } from '../test/lab/lab';
import { nsRun, sysctlSet } from '../test/lab/netns';
import { loadedPrograms, withBpfStats } from './bpf-stats';
import { median, startFlapwatch, stopChild } from './daemon';
import { cpuSeconds, machineBusySeconds, memoryMB, type CpuTimes } from './proc';
import type { Bench } from './types';

const SECONDS = 8;
/** a storm at the run's pace before the measured one: a daemon that has been running, not one starting */
const WARM_SECONDS = 3;
const ROUNDS = 6;
const CLIENTS = 4;
const SERVER_PORT = 9100;
/** connects/s in all, well under what the two CPUs do, so that the daemon is never short of CPU */
const PACES = [3000, 10_000];
const PACED_ROUNDS = 6;
/** the tracker's share of a connect's CPU the bench holds it to */
const GOAL = 0.05;
/** how far the daemon's user-space CPU may rise from the lowest pace's to count as flat in the rate */
const FLAT_CORES = 0.02;

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
  /** CPU seconds the storm's processes used: clients and servers (user + sys, softirq work on their time included) */
  cpu: number;
}

interface Run extends Storm {
  /** the daemon's CPU, cores, and RSS */
  daemon?: { user: number; sys: number; rss: number };
  /** cores the rest of the machine kept busy meanwhile (other work, kernel threads) */
  other: number;
  /** the tracker's BPF program over the storm (bpf_stats) */
  program?: { runs: number; ns: number };
  /** connects the daemon counted on the storm's edge (attempted), and the events its tracker says it lost */
  counted?: { attempted: number; lost: number };
}

/** The value `read` gives once two reads an interval and more apart agree (the daemon lags behind a storm). */
async function settled<T>(read: () => Promise<T>): Promise<T> {
  let last: T | undefined;
  for (let i = 0; i < 20; i++) {
    const now = await read();
    if (JSON.stringify(now) === JSON.stringify(last)) return now;
    last = now;
    await sleep(1500);
  }
  return last!;
}

/** The attempted connects flapwatch_edge_connections_total holds for the storm's Service, and the tracker's losses. */
async function counted(listen: string): Promise<{ attempted: number; lost: number }> {
  const lines = (await (await fetch(`http://${listen}/metrics`)).text()).split('\n');
  const value = (test: (l: string) => boolean) => {
    const line = lines.find(test);
    return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
  };
  return {
    attempted: value((l) => l.startsWith('flapwatch_edge_connections_total{') && l.includes('service="storm"') && l.includes('result="attempted"')),
    lost: value((l) => l.startsWith('flapwatch_events_lost_total{source="connections"}')),
  };
}

/** run_cnt and run_time_ns of the daemon's conn_state program, now. */
async function programTime(pid: number): Promise<{ runs: number; ns: number }> {
  const held = new Set(programIdsHeldBy(pid));
  const p = [...(await loadedPrograms()).values()].find((q) => held.has(q.id) && q.name === 'conn_state');
  if (!p) throw new Error('the daemon holds no conn_state program');
  return { runs: p.run_cnt ?? 0, ns: p.run_time_ns ?? 0 };
}

export interface StormLab {
  lab: Lab;
  /** connects from the node to the Service for `seconds` (SECONDS); `rate` connects/s in all (0: as fast as they go) */
  storm(rate?: number, seconds?: number): Promise<Storm>;
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
  const serverCpu = () => servers.reduce((n, s) => { const t = cpuSeconds(s.pid!); return n + t.user + t.sys; }, 0);
  const storm = async (rate = 0, seconds = SECONDS): Promise<Storm> => {
    const before = serverCpu();
    const s = JSON.parse((await nsRun(lab.node, tool, ['connect', svc.clusterIP, String(svc.port), String(seconds), String(CLIENTS), String(rate)], { timeoutMs: (seconds + 30) * 1000 })).stdout) as Storm;
    return { ...s, cpu: s.cpu + serverCpu() - before };
  };
  return { lab, storm, destroy };
}

const k = (n: number) => Math.round(n).toLocaleString('en-US');
const perConnect = (r: Run) => (r.cpu / (r.connects + r.failed)) * 1e6;
const daemonCores = (r: Run) => r.daemon!.user + r.daemon!.sys;
const countedOf = (r: Run) => `${k(r.counted!.attempted)} of ${k(r.connects + r.failed)}${r.counted!.lost ? ` (${k(r.counted!.lost)} lost)` : ''}`;

export async function connectStorm(): Promise<Bench> {
  const { lab, storm, destroy } = await stormLab();
  try {
    const { nodeIp } = await lab.linkToHost();
    let port = 19_700;
    // the tracker's program is timed (bpf_stats) only where asked: timing adds two clock reads to every run of every
    // program, which a daemon never pays
    const once = async (v: Variant, rate = 0, timed = false): Promise<Run> => {
      const listen = `${nodeIp}:${port++}`;
      const ready = v.tracks ? /flapwatch_source_up\{source="connections"\} 1/ : /flapwatch_source_up\{source="drops"\} 1/;
      const daemon = v.args ? await startFlapwatch({ listen, netns: lab.node, args: v.args, ready }) : undefined;
      try {
        const pid = daemon?.pid;
        // every variant alike: the daemon's start-up work, and V8's compiling of the code the storm makes hot (its
        // compiler threads' time is user time), done before the measured storm
        await storm(rate, WARM_SECONDS);
        // what the warm-up storm counted, once the daemon has drained it: the measured storm's count is the rise
        const counted0 = v.tracks ? await settled(() => counted(listen)) : undefined;
        const cpu0: CpuTimes | undefined = pid ? cpuSeconds(pid) : undefined;
        const prog0 = pid && v.tracks && timed ? await programTime(pid) : undefined;
        const busy0 = machineBusySeconds();
        const s = await storm(rate);
        const busy = machineBusySeconds() - busy0;
        const prog1 = prog0 ? await programTime(pid!) : undefined;
        const cpu1 = pid ? cpuSeconds(pid) : undefined;
        const daemonRun = pid && cpu0 && cpu1 ? { user: (cpu1.user - cpu0.user) / s.seconds, sys: (cpu1.sys - cpu0.sys) / s.seconds, rss: memoryMB(pid).rss } : undefined;
        return {
          ...s,
          ...(daemonRun && { daemon: daemonRun }),
          other: Math.max(0, (busy - s.cpu) / s.seconds - (daemonRun ? daemonRun.user + daemonRun.sys : 0)),
          ...(prog0 && prog1 && { program: { runs: prog1.runs - prog0.runs, ns: prog1.ns - prog0.ns } }),
          ...(counted0 && { counted: await settled(() => counted(listen)).then((c) => ({ attempted: c.attempted - counted0.attempted, lost: c.lost - counted0.lost })) }),
        };
      } finally {
        if (daemon) await stopChild(daemon);
      }
    };

    await storm(); // warm: conntrack and the servers' first accepts
    const variants = [NONE, UNTRACKED, TRACKED];
    const full = new Map<Variant, Run[]>(variants.map((v) => [v, []]));
    for (let round = 0; round < ROUNDS; round++) for (const v of variants) full.get(v)!.push(await once(v));
    return await withBpfStats(async () => {
      const paced = new Map<string, Run[]>();
      for (let round = 0; round < PACED_ROUNDS; round++) {
        for (const pace of PACES) {
          for (const v of [UNTRACKED, TRACKED]) {
            const key = `${v.name}@${pace}`;
            paced.set(key, [...(paced.get(key) ?? []), await once(v, pace, true)]);
          }
        }
      }

      const m = (rs: Run[], f: (r: Run) => number) => median(rs.map(f));
      const each = (rs: Run[], f: (r: Run) => number, digits = 0) => rs.map((r) => f(r).toFixed(digits)).join(' / ');
      const row = (v: Variant, pace: string, rs: Run[]): string[] => [
        v.name, pace,
        `${k(m(rs, (r) => r.rate))} (${each(rs, (r) => r.rate / 1000)} k)`,
        `${m(rs, perConnect).toFixed(1)} (${each(rs, perConnect)})`,
        v.args ? `${m(rs, (r) => r.daemon!.user).toFixed(3)} + ${m(rs, (r) => r.daemon!.sys).toFixed(3)}` : '–',
        v.args ? m(rs, (r) => (daemonCores(r) / r.rate) * 1e6).toFixed(1) : '–',
        rs[0]!.program ? m(rs, (r) => r.program!.ns / (r.connects + r.failed)).toFixed(0) : '–',
        m(rs, (r) => r.other).toFixed(2),
        v.args ? m(rs, (r) => r.daemon!.rss).toFixed(1) : '–',
        v.tracks ? rs.map(countedOf).join('; ') : '–',
      ];
      const rows = [
        ...variants.map((v) => row(v, 'as fast as they go', full.get(v)!)),
        ...PACES.flatMap((pace) => [UNTRACKED, TRACKED].map((v) => row(v, `paced at ${k(pace)}/s`, paced.get(`${v.name}@${pace}`)!))),
      ];

      const baseline = m(full.get(NONE)!, perConnect);
      const tracked = full.get(TRACKED)!;
      const timed = PACES.flatMap((pace) => paced.get(`${TRACKED.name}@${pace}`)!);
      const kernelUs = m(timed, (r) => r.program!.ns / (r.connects + r.failed)) / 1000;
      const eventsPerConnect = m(timed, (r) => r.program!.runs / (r.connects + r.failed));
      // the daemon's extra CPU per connect: tracked minus untracked run just before it at the same pace (the
      // machine's other load drifts less between neighbours), median of the pairs; the higher of the paces
      const pairs = PACES.map((pace) => {
        const [off, on] = [UNTRACKED, TRACKED].map((v) => paced.get(`${v.name}@${pace}`)!) as [Run[], Run[]];
        const diffs = on.map((r, i) => ({ user: r.daemon!.user - off[i]!.daemon!.user, sys: r.daemon!.sys - off[i]!.daemon!.sys, rate: r.rate }));
        return { pace, diffs, us: median(diffs.map((d) => ((d.user + d.sys) / d.rate) * 1e6)) };
      });
      const userUs = Math.max(...pairs.map((p) => p.us));
      const share = (kernelUs + Math.max(0, userUs)) / baseline;
      const endToEnd = m(tracked, perConnect) / baseline;
      const rateRatio = m(tracked, (r) => r.rate) / m(full.get(NONE)!, (r) => r.rate);
      const pacedRuns = [...paced.entries()].filter(([key]) => key.startsWith(TRACKED.name)).flatMap(([, rs]) => rs);
      const fullCounts = tracked.filter((r) => r.counted!.attempted !== r.connects + r.failed);
      const failed = [...full.values(), ...paced.values()].flat().reduce((n, r) => n + r.failed, 0);
      const userCurve = [
        ...PACES.map((pace) => ({ pace: `${k(pace)}/s`, runs: paced.get(`${TRACKED.name}@${pace}`)! })),
        { pace: 'the storm', runs: tracked },
      ].map(({ pace, runs }) => ({ pace, user: m(runs, (r) => r.daemon!.user), each: each(runs, (r) => r.daemon!.user, 3) }));
      return {
        title: `Connect storm: short TCP connections from the node to a ClusterIP (kube-proxy iptables-nft, DNAT to 2 pods), ${CLIENTS} client processes, ${SECONDS} s per run, the tracker's cost counted in CPU per connect`,
        header: ['variant', 'pace', 'connects/s: median (each run)', "storm's CPU per connect, µs: median (each run)", "flapwatch's CPU, cores: user + sys", "flapwatch's CPU per connect, µs", 'tracker program per connect, ns (bpf_stats, paced runs)', 'rest of the machine, cores', 'RSS MB', 'connects flapwatch counted (each run)'],
        rows,
        notes: [
          `The tracker's cost per connect: its BPF program ${(kernelUs * 1000).toFixed(0)} ns (${eventsPerConnect.toFixed(1)} state changes per connect, client and server sockets, each one run) + the daemon's extra CPU ${userUs.toFixed(2)} µs (tracking minus --no-connections at the same pace, the higher of ${PACES.map(k).join(' and ')}/s) = ${(kernelUs + Math.max(0, userUs)).toFixed(2)} µs, against ${baseline.toFixed(1)} µs of CPU a connect costs its client and server processes without flapwatch.`,
          "Storm's CPU per connect: user + sys of the client processes (getrusage of connstorm's children) and of the two servers, over the connects; the kernel's work for a connect (both TCP stacks, the nat OUTPUT DNAT, conntrack, the bridge, softirq run on their time) is in it, and with tracking so is the tracker's program. The rate is not the measure: two CPUs carry the clients, the servers, the daemon and whatever else the machine runs (\"rest of the machine\"), so the rate moves with that load, round to round.",
          ...pairs.map((p) => `The daemon's CPU with tracking minus without, each pair at ${k(p.pace)}/s, cores user / sys: ${p.diffs.map((d) => `${d.user.toFixed(3)} / ${d.sys.toFixed(3)}`).join(', ')} → ${p.us.toFixed(2)} µs per connect (median). Its sys time takes the softirq work that lands while it runs (this kernel accounts interrupt time by tick, CONFIG_IRQ_TIME_ACCOUNTING unset), which is the storm's, not the daemon's.`),
          `Without its tracker the daemon's CPU moves with the connect rate too (its other sources: conntrack among them, every connect being a conntrack entry) — that is flapwatch's cost, not the tracker's, and it is the noise the tracker's share is read against.`,
          ...(fullCounts.length ? [`At full rate ${fullCounts.length} of ${ROUNDS} tracking runs counted fewer connects than the clients made (${fullCounts.map(countedOf).join('; ')}): the daemon then shares two saturated CPUs with the storm.`] : []),
          `End to end: storm's CPU per connect with tracking / without flapwatch = ${endToEnd.toFixed(3)}; connects/s with tracking / without = ${rateRatio.toFixed(3)} (medians of ${ROUNDS} interleaved rounds). Both move by more than the tracker's share between rounds of the same variant.`,
          `The daemon's user-space CPU with tracking, cores: ${userCurve.map((u) => `${u.user.toFixed(3)} at ${u.pace} (${u.each})`).join(', ')}. The connects reach user space only as counts per edge; what rises with the rate is per dropped flow (the storm itself makes about one connect in 150 drop an ACK a listener no longer expects, TCP_FLAGS at tcp_v4_do_rcv: one record each), and on two saturated CPUs the same work takes the daemon longer.`,
          'bpf_stats (kernel.bpf_stats_enabled=1 for the paced rounds only, both variants alike) times the program body; the tracepoint\'s dispatch to it is outside that figure and is in the storm\'s CPU. Its own two clock reads per run are inside it. The rounds as fast as they go run without it, as a daemon does: it would add two clock reads to every run of every program (drops, DNS, connections) and so weigh on the flapwatch variants only.',
          `Rounds interleave the variants (${ROUNDS} as fast as they go; then ${PACED_ROUNDS} of each pace, --no-connections and tracking alternating). Each run starts its own daemon and storms ${WARM_SECONDS} s at its pace before the ${SECONDS} s it measures (start-up work and V8's compiling of what the storm makes hot are over by then). ${failed} connects failed in all runs.`,
          'The node is the client (its own address: the edge is client_kind="Node" → bench/storm:tcp); "connects flapwatch counted" is its flapwatch_edge_connections_total{result="attempted"} once it stops moving after the run.',
          'The node netns reuses TIME_WAIT ports (tcp_tw_reuse=1) and forgets closed conntrack entries after 1 s, or ports and the conntrack table run out long before the CPUs do.',
        ],
        floors: [
          {
            what: `the tracker costs ≤ ${GOAL * 100}% of a connect's CPU (its BPF program + the daemon's extra CPU, per connect, over the storm's CPU per connect without flapwatch)`,
            ok: share <= GOAL,
            value: `${(share * 100).toFixed(2)}% (program ${(kernelUs * 1000).toFixed(0)} ns, ${((kernelUs / baseline) * 100).toFixed(2)}%, + daemon ${userUs.toFixed(2)} µs, of ${baseline.toFixed(1)} µs)`,
          },
          { what: 'the storm\'s rate with flapwatch (connection tracking) ≥ 0.95 of the rate without it', ok: rateRatio >= 0.95, value: rateRatio.toFixed(3) },
          {
            what: `flapwatch's user-space CPU flat in the connect rate: at 10,000/s and at the storm within ${FLAT_CORES} core of ${k(PACES[0]!)}/s`,
            ok: userCurve.every((u) => u.user - userCurve[0]!.user <= FLAT_CORES),
            value: userCurve.map((u) => u.user.toFixed(3)).join(', '),
          },
          {
            what: 'at paced rates flapwatch counts every connect',
            ok: pacedRuns.every((r) => r.counted!.attempted === r.connects + r.failed),
            value: pacedRuns.map(countedOf).join(', '),
          },
        ],
      };
    });
  } finally {
    await destroy();
  }
}
