// ListenOverflowReader: a full accept queue loses SYNs with no drop event (the kernel consumes them), so the only
// witness is the pod's own netns counters, TcpExt ListenOverflows and ListenDrops (which includes the former).
// Every interval it finds the distinct network namespaces of running processes, its own included (needs hostPID
// to see pods'), reads each one's /proc/<pid>/net/netstat (the file shows that pid's netns: no setns needed) and
// reports deltas, with the namespace's addresses and the pod they belong to. It also knows every address a
// namespace of this host owns: a packet to one of them never left the host.
import * as fs from 'node:fs';
import type { Logger } from 'pino';
import type { ListenOverflowObservation } from '../observe/health';
import type { SourceStats } from '../observe/source';
import { CounterDeltas } from '../observe/deltas';
import { describe } from '../observe/errors';
import { readOr } from '../observe/files';
import { addrsFromIfInet6, localAddrsFromFibTrie, tcpExtCounters } from './netstat';
import { PolledSource } from '../observe/polled-source';
import type { PodByAddress } from './pods';

export interface ListenOverflowOptions {
  intervalMs: number;
  podByAddress?: PodByAddress;
  logger: Logger;
}

export interface ScanStats {
  /** processes looked at */
  processes: number;
  /** network namespaces found, the daemon's own included */
  namespaces: number;
  /** wall time of the scan */
  ms: number;
  /** CPU time it cost this process (user + system, the kernel's generation of each netstat included) */
  cpuMs: number;
}

const GONE = new Set(['ENOENT', 'ESRCH']); // the process exited between readdir and the read
const PIDS_PER_NETNS = 3; // spares, should the first exit before its netstat is read
const COUNTERS = ['ListenOverflows', 'ListenDrops'];
// the event loop gets a turn after this many netstat reads (the kernel generates each one on read)
const READS_PER_TURN = 50;

function codeOf(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? '';
}



export class ListenOverflowReader extends PolledSource<ListenOverflowObservation> {
  private readonly deltas = new CounterDeltas();
  /** netns key → the kernel's netns inode (0 when /proc/PID/ns/net may not be read) */
  private readonly inodes = new Map<number, number>();
  /** netns key → its addresses, read when the netns is first seen (a pod keeps its addresses for life) */
  private readonly addrs = new Map<number, string[]>();
  private onHost = new Set<string>();
  /** kernel threads are visible only in the host's PID namespace */
  private readonly hostPid = readOr('/proc/2/comm', '').trim() === 'kthreadd';
  private failure: string | undefined;
  private last: ScanStats = { processes: 0, namespaces: 0, ms: 0, cpuMs: 0 };

  constructor(private readonly opts: ListenOverflowOptions) {
    super(opts, 'listen_overflows', 'listen overflow');
  }

  lastScan(): ScanStats {
    return this.last;
  }

  /** Whether a network namespace of this host (as far as the last scan saw) owns the address. */
  ownsAddress(ip: string): boolean {
    return this.onHost.has(ip);
  }

  stats(): SourceStats[] {
    const { isStarted, isStopped } = this.periodic;
    let reason = this.failure ?? '';
    if (!reason && isStarted && this.last.namespaces <= 1 && !this.hostPid) {
      reason = 'sees no network namespace but its own: without hostPID the pods\' processes are invisible';
    }
    const up = isStarted && !isStopped && this.failure === undefined;
    return [{ source: 'listen_overflows', up, reason: isStopped ? 'stopped' : reason, errors: this.errors, eventsLost: 0, rateLimited: 0 }];
  }

  protected async readOnce(): Promise<void> {
    const t0 = process.hrtime.bigint();
    const cpu0 = process.cpuUsage();
    try {
      await this.scan();
      if (this.failure !== undefined) this.log.info('reading listen overflows again');
      this.failure = undefined;
    } catch (err) {
      this.errors++;
      const reason = `cannot scan /proc: ${describe(err)}`;
      if (this.failure !== reason) this.log.warn(reason);
      this.failure = reason;
    }
    const cpu = process.cpuUsage(cpu0);
    this.last = { ...this.last, ms: Number(process.hrtime.bigint() - t0) / 1e6, cpuMs: (cpu.user + cpu.system) / 1000 };
  }

  // Synchronous calls (a stat per process, a small read per netns cost less than promise round trips), with a
  // turn for the event loop every READS_PER_TURN namespaces.
  private async scan(): Promise<void> {
    // The inode of /proc/PID/net/netstat is one per network namespace (a proc entry each netns creates), and
    // unlike /proc/PID/ns/net it needs no ptrace access: it tells namespaces apart without CAP_SYS_PTRACE.
    const byNetns = new Map<number, number[]>();
    const pids = fs.readdirSync('/proc').filter((name) => name.charCodeAt(0) <= 57 && /^\d+$/.test(name));
    for (const name of pids) {
      let key: number;
      try {
        key = fs.statSync(`/proc/${name}/net/netstat`).ino;
      } catch (err) {
        if (!GONE.has(codeOf(err))) this.errors++;
        continue;
      }
      const list = byNetns.get(key);
      if (!list) byNetns.set(key, [Number(name)]);
      else if (list.length < PIDS_PER_NETNS) list.push(Number(name));
    }
    const current = new Map<string, number>();
    const readFrom = new Map<number, number>();
    let reads = 0;
    for (const [key, list] of byNetns) {
      if (++reads % READS_PER_TURN === 0) await new Promise((resolve) => setImmediate(resolve));
      for (const pid of list) {
        const counters = this.readCounters(pid);
        if (!counters) continue;
        current.set(`${key}|o`, counters.overflows);
        current.set(`${key}|d`, counters.drops);
        readFrom.set(key, pid);
        break;
      }
    }
    for (const key of this.inodes.keys()) if (!byNetns.has(key)) this.inodes.delete(key);
    this.learnAddresses(byNetns, readFrom);
    // A netns whose processes all exited mid-scan keeps its last counts: it is still there, just unread.
    const deltas = this.deltas.update(current, (k) => byNetns.has(Number(k.slice(0, k.indexOf('|')))));
    this.last = { processes: pids.length, namespaces: byNetns.size, ms: 0, cpuMs: 0 };
    const changed = new Set([...deltas.keys()].map((k) => Number(k.slice(0, k.indexOf('|')))));
    const at = Date.now();
    const out: ListenOverflowObservation[] = [];
    for (const key of changed) {
      const addrs = this.addrs.get(key) ?? [];
      const pod = this.podOf(addrs);
      out.push({
        at,
        netns: this.inodeOf(key, readFrom.get(key) as number),
        addrs,
        ...(pod ? { pod } : {}),
        listenOverflows: deltas.get(`${key}|o`) ?? 0,
        listenDrops: deltas.get(`${key}|d`) ?? 0,
      });
    }
    this.emit(out);
  }

  private readCounters(pid: number): { overflows: number; drops: number } | undefined {
    try {
      const stats = tcpExtCounters(fs.readFileSync(`/proc/${pid}/net/netstat`, 'latin1'), COUNTERS);
      return { overflows: stats.get('ListenOverflows') ?? 0, drops: stats.get('ListenDrops') ?? 0 };
    } catch (err) {
      if (!GONE.has(codeOf(err))) this.errors++;
      return undefined;
    }
  }

  // A namespace's addresses are read once, when it first shows: the set changes with the namespaces, not the scans.
  private learnAddresses(byNetns: ReadonlyMap<number, number[]>, readFrom: ReadonlyMap<number, number>): void {
    let changed = false;
    for (const key of this.addrs.keys()) {
      if (byNetns.has(key)) continue;
      this.addrs.delete(key);
      changed = true;
    }
    for (const [key, pid] of readFrom) {
      if (this.addrs.has(key)) continue;
      const read = (file: string) => readOr(`/proc/${pid}/net/${file}`, ''); // gone meanwhile, or no IPv6 here
      this.addrs.set(key, [...localAddrsFromFibTrie(read('fib_trie')), ...addrsFromIfInet6(read('if_inet6'))]);
      changed = true;
    }
    if (changed) this.onHost = new Set([...this.addrs.values()].flat());
  }

  private podOf(addrs: string[]) {
    for (const a of addrs) {
      const pod = this.opts.podByAddress?.(a);
      if (pod) return pod;
    }
    return undefined;
  }

  private inodeOf(key: number, pid: number): number {
    let ino = this.inodes.get(key);
    if (ino === undefined) {
      try {
        ino = Number(/^net:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/ns/net`))?.[1] ?? 0);
      } catch (err) {
        if (GONE.has(codeOf(err))) return 0; // try again next time, through another process
        ino = 0; // needs CAP_SYS_PTRACE, which the DaemonSet does not ask for: the inode only labels messages
      }
      this.inodes.set(key, ino);
    }
    return ino;
  }
}
