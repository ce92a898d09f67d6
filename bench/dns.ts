// DNS storm: dnsperf in a lab pod asks a local resolver (dnsmasq in another pod, through a kube-dns-style ClusterIP)
// as fast as it answers, side by side in one run: without flapwatch, with flapwatch and its DNS tracking off, on
// cgroup_skb (its choice here) and on the device tracepoints (older kernels'), rounds interleaved; then the same
// resolver at paced rates, to see flapwatch's user-space CPU stay flat; the DNS programs' kernel time per query and
// per other packet (kernel.bpf_stats_enabled); and the queries flapwatch counted against those dnsperf sent.
import { execFileSync, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { programIdsHeldBy } from '../test/helpers/env';
import { KUBE_DNS, kubeDnsServices, LabDns } from '../test/lab/dns';
import { Lab } from '../test/lab/lab';
import { udpflood } from '../test/lab/udpflood';
import { median, startFlapwatch, stopChild } from './daemon';
import { cores, cpuSeconds, memoryMB } from './proc';
import type { Bench } from './types';

const STORM_S = 8;
const ROUNDS = 3;
const PACED = [0, 1000, 5000];
const NAME = 'db.shop.svc.cluster.local';
const STATS = '/proc/sys/kernel/bpf_stats_enabled';
/** a query is counted when it ends: answered, or unanswered after 5 s, at the drain after that */
const SETTLE_MS = 7000;

interface Arm {
  name: string;
  /** undefined: no flapwatch */
  flags?: string[];
  /** the source whose start-up the daemon is waited for */
  source?: string;
}

const NO_FLAPWATCH: Arm = { name: 'no flapwatch' };
const NO_DNS: Arm = { name: 'flapwatch --no-dns', flags: ['--no-dns'], source: 'drops' };
const CGROUP: Arm = { name: 'flapwatch, DNS on cgroup_skb', flags: ['--dns-hook', 'cgroup_skb'], source: 'dns' };
const TRACEPOINTS: Arm = { name: 'flapwatch, DNS on the device tracepoints', flags: ['--dns-hook', 'tracepoints'], source: 'dns' };
const ARMS = [NO_FLAPWATCH, NO_DNS, CGROUP, TRACEPOINTS];

/** Runs and run time of the DNS programs a process holds (bpf_stats), summed. */
function programTime(pid: number): { runs: number; ns: number } {
  const ids = new Set(programIdsHeldBy(pid));
  const all = JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show'], { encoding: 'utf8' })) as { id: number; name?: string; run_cnt?: number; run_time_ns?: number }[];
  const mine = all.filter((p) => ids.has(p.id) && /^dns_(egress|ingress|xmit|receive)$/.test(p.name ?? ''));
  return { runs: mine.reduce((n, p) => n + (p.run_cnt ?? 0), 0), ns: mine.reduce((n, p) => n + (p.run_time_ns ?? 0), 0) };
}

/** flapwatch_dns_queries_total summed over every label set. */
async function countedQueries(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return [...text.matchAll(/^flapwatch_dns_queries_total\{[^}]*\} (\S+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
}

interface Perf { qps: number; sent: number; lost: number; latencyMs: number }

interface Sample extends Perf {
  /** flapwatch's CPU, cores; 0 without it */
  user: number;
  sys: number;
  rss: number;
  /** queries flapwatch counted of those sent; NaN without DNS tracking */
  counted: number;
  runsPerQuery: number;
  nsPerQuery: number;
}

export async function dnsBench(): Promise<Bench> {
  if (process.getuid?.() !== 0) throw new Error('the DNS bench needs root (the lab)');
  const statsBefore = readFileSync(STATS, 'utf8').trim();
  const lab = await Lab.create({ pods: 2, services: kubeDnsServices([1]) });
  const dns = await LabDns.start(lab, [1], { [NAME]: '10.96.1.1' });
  const queries = path.join(os.tmpdir(), `flapwatch-dnsperf-${process.pid}.txt`);
  writeFileSync(queries, `${NAME} A\n${NAME} AAAA\n`);
  const server = lab.service(KUBE_DNS).clusterIP;
  let port = 19_950;
  const daemons = new Set<ChildProcess>();
  const start = async (arm: Arm) => {
    if (!arm.flags) return undefined;
    const listen = port++;
    const child = await startFlapwatch({ listen: `127.0.0.1:${listen}`, args: arm.flags, ready: new RegExp(`flapwatch_source_up\\{source="${arm.source}"\\} 1`) });
    daemons.add(child);
    await sleep(1000);
    return { child, port: listen };
  };
  const stop = async (child: ChildProcess | undefined) => {
    if (!child) return;
    await stopChild(child);
    daemons.delete(child);
  };
  /** dnsperf for `seconds`: as fast as the resolver answers (500 queries outstanding), or at `rate`; 0 sends nothing. */
  const perf = async (seconds: number, rate?: number): Promise<Perf> => {
    if (rate === 0) {
      await sleep(seconds * 1000);
      return { qps: 0, sent: 0, lost: 0, latencyMs: NaN };
    }
    const args = ['-s', server, '-d', queries, '-l', String(seconds), '-q', '500', ...(rate ? ['-Q', String(rate)] : [])];
    const out = (await lab.exec(lab.pods[0]!, 'dnsperf', args)).stdout;
    const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? NaN);
    return {
      qps: num(/Queries per second:\s+([\d.]+)/),
      sent: num(/Queries sent:\s+(\d+)/),
      lost: num(/Queries lost:\s+(\d+)/),
      latencyMs: 1000 * num(/Average Latency \(s\):\s+([\d.]+)/),
    };
  };
  const measured = async (daemon: { child: ChildProcess; port: number } | undefined, dnsOn: boolean, seconds: number, rate?: number): Promise<Sample> => {
    const pid = daemon?.child.pid;
    const [cpu0, prog0, counted0] = [pid ? cpuSeconds(pid) : undefined, pid ? programTime(pid) : undefined, dnsOn ? await countedQueries(daemon!.port) : 0];
    const r = await perf(seconds, rate);
    const [cpu1, prog1] = [pid ? cpuSeconds(pid) : undefined, pid ? programTime(pid) : undefined];
    const rss = pid ? memoryMB(pid).rss : 0;
    const used = cpu0 && cpu1 ? cores(cpu0, cpu1, seconds) : { user: 0, sys: 0 };
    let counted = NaN;
    if (dnsOn && r.sent > 0) {
      await sleep(SETTLE_MS);
      counted = (await countedQueries(daemon!.port)) - counted0;
    }
    const answered = r.qps * seconds;
    const per = (n: number) => (answered && prog0 && prog1 ? n / answered : 0);
    return { ...r, user: used.user, sys: used.sys, rss, counted, runsPerQuery: per((prog1?.runs ?? 0) - (prog0?.runs ?? 0)), nsPerQuery: per((prog1?.ns ?? 0) - (prog0?.ns ?? 0)) };
  };
  try {
    // the storms run as a daemon does, untimed: bpf_stats adds two clock reads to every run of every program,
    // which would weigh on the flapwatch arms alone
    writeFileSync(STATS, '0');
    // rounds interleave the arms, so that a noisy minute hurts them all alike; medians are reported
    const storms = new Map<Arm, Sample[]>(ARMS.map((a) => [a, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const arm of ARMS) {
        const daemon = await start(arm);
        storms.get(arm)!.push(await measured(daemon, arm.source === 'dns', STORM_S));
        await stop(daemon?.child);
      }
    }
    writeFileSync(STATS, '1');
    // the programs timed: one more storm of each DNS arm
    const timed = new Map<Arm, Sample>();
    for (const arm of [CGROUP, TRACEPOINTS]) {
      const daemon = await start(arm);
      timed.set(arm, await measured(daemon, true, STORM_S));
      await stop(daemon?.child);
    }
    // every other packet pays the programs' filter: UDP to a port nobody answers on, from the same pod
    const otherPacket = new Map<Arm, number>();
    for (const arm of [CGROUP, TRACEPOINTS]) {
      const daemon = (await start(arm))!;
      const before = programTime(daemon.child.pid!);
      await udpflood(lab.pods[0]!, { dst: lab.podIp(1), firstPort: 9000, seconds: 5 });
      const after = programTime(daemon.child.pid!);
      otherPacket.set(arm, (after.ns - before.ns) / Math.max(1, after.runs - before.runs));
      await stop(daemon.child);
    }
    const paced: { rate: number; sample: Sample }[] = [];
    const daemon = await start(CGROUP);
    for (const rate of PACED) paced.push({ rate, sample: await measured(daemon, true, STORM_S, rate) });
    await stop(daemon?.child);

    const m = (list: Sample[], f: (s: Sample) => number) => median(list.map(f));
    const base = m(storms.get(NO_FLAPWATCH)!, (s) => s.qps);
    const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '–');
    const row = (name: string, list: Sample[], arm: Arm, other?: number, timing: Sample[] = list): string[] => {
      const dnsOn = arm.source === 'dns';
      const sent = list.reduce((n, s) => n + s.sent, 0);
      const counted = list.reduce((n, s) => n + s.counted, 0);
      return [
        name,
        fmt(m(list, (s) => s.qps)),
        list.map((s) => fmt(s.qps / 1000, 1)).join(' / '),
        (m(list, (s) => s.qps) / base).toFixed(3),
        fmt(m(list, (s) => s.latencyMs), 2),
        arm.flags ? `${m(list, (s) => s.user).toFixed(3)} + ${m(list, (s) => s.sys).toFixed(3)}` : '–',
        arm.flags ? fmt(m(list, (s) => s.rss), 1) : '–',
        dnsOn && sent ? `${fmt(counted)} of ${fmt(sent)} (${(counted / sent).toFixed(4)})` : '–',
        dnsOn ? m(timing, (s) => s.runsPerQuery).toFixed(2) : '–',
        dnsOn ? fmt(m(timing, (s) => s.nsPerQuery)) : '–',
        other === undefined ? '–' : fmt(other),
      ];
    };
    const rows = [
      ...ARMS.map((a) => row(`storm: ${a.name}`, storms.get(a)!, a, otherPacket.get(a), timed.has(a) ? [timed.get(a)!] : undefined)),
      ...paced.map(({ rate, sample }) => row(`paced ${fmt(rate)} q/s: ${CGROUP.name}`, [sample], rate > 0 ? CGROUP : { ...CGROUP, source: 'drops' })),
    ];
    const ratio = m(storms.get(CGROUP)!, (s) => s.qps) / base;
    // user space alone: the daemon's sys time takes the softirq work that lands while it runs (interrupt time is
    // accounted by tick here), which is the storm's
    const cpus = [...paced.map((p) => p.sample.user), m(storms.get(CGROUP)!, (s) => s.user)];
    const dnsSamples = [...storms.get(CGROUP)!, ...storms.get(TRACEPOINTS)!, ...timed.values(), ...paced.map((p) => p.sample)].filter((s) => s.sent > 0);
    const sent = dnsSamples.reduce((n, s) => n + s.sent, 0);
    const counted = dnsSamples.reduce((n, s) => n + s.counted, 0);
    return {
      title: `DNS storm: dnsperf against dnsmasq through a kube-dns ClusterIP, ${STORM_S} s per run, ${ROUNDS} rounds`,
      header: [
        'run', 'answered queries/s (median)', 'each round, k/s', 'vs no flapwatch', 'dnsperf\'s mean latency, ms', 'flapwatch CPU, cores: user + sys', 'flapwatch RSS, MB',
        'queries flapwatch counted of those sent', 'DNS program runs per query', 'DNS programs\' time per query, ns', 'per other packet, ns',
      ],
      rows,
      floors: [
        { what: 'the storm\'s rate with DNS tracking (cgroup_skb) ≥ 0.95 of the rate without flapwatch', ok: ratio >= 0.95, value: ratio.toFixed(3) },
        {
          what: 'flapwatch\'s user-space CPU flat in the query rate: at the storm within 0.02 core of idle',
          ok: Math.max(...cpus) - Math.min(...cpus) <= 0.02,
          value: `${cpus.map((c) => c.toFixed(3)).join(', ')} cores at ${[...PACED.map((r) => fmt(r)), 'the storm'].join(', ')} q/s`,
        },
        { what: 'every query sent is counted once (DNS tracking on, every run)', ok: sent > 0 && Math.abs(counted - sent) / sent <= 0.001, value: `${fmt(counted)} of ${fmt(sent)}` },
      ],
      notes: [
        'One dnsmasq (single-threaded) in a lab pod behind a kube-dns-style ClusterIP (DNAT in the node namespace, as kube-proxy programs it); dnsperf in another pod, 500 queries outstanding, A and AAAA for one name; the VM has 2 CPUs, which the resolver, dnsperf, flapwatch and the kernel share. The storm\'s latency is mostly the 500 queries queued at the resolver; the paced rows show an unloaded one.',
        'Each flapwatch arm starts its own `flapwatch run` (standalone, every other source on; bench/daemon.ts) a second before its storm and stops it after: the arms differ only in the DNS programs. CPU is the whole daemon\'s (every source), from /proc over the run; RSS at its end.',
        `Counted: flapwatch_dns_queries_total (every label set) read before the run and ${SETTLE_MS / 1000} s after it, when every query sent has ended (answered, or unanswered at 5 s) and been drained.`,
        'DNS program runs and time from kernel.bpf_stats_enabled, on only for one more storm of each DNS arm (its row\'s figures), for the paced rows and for the other packets: per answered query, summed over the programs\' every run in that time, its own two clock reads per run included. The storm rounds run untimed, as a daemon does. A local query and its answer pass 4 socket hooks (the client\'s send and receive, the resolver\'s) or 8 device hooks (two veths and the bridge, each way); the tracepoints also run for every forwarded packet.',
        '"per other packet": UDP from the client pod to a closed port of the resolver\'s pod (udpflood, 5 s): what every packet that is not DNS pays for the filter.',
      ],
    };
  } finally {
    writeFileSync(STATS, statsBefore);
    for (const d of daemons) await stopChild(d);
    rmSync(queries, { force: true });
    await dns.stop();
    await lab.destroy();
  }
}
