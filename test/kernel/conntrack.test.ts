// Conntrack over ctnetlink on the real kernel, in a throwaway netns holding flows we made and know.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  aggregateConntrack,
  readConntrackStats,
  REPLIED,
  UNREPLIED,
  watchConntrackDeaths,
  type ConntrackDeathWatch,
  type ConntrackGroup,
} from '../../src/kernel/conntrack';
import { addon, type NativeError } from '../../src/native';
import { eventually, kernelSkip } from '../helpers/env';
import { alreadyStarted, notStarted } from '../helpers/lifecycle';
import { nsRun } from '../lab/netns';
import { udpflood } from '../lab/udpflood';
import { conntrackLab, type ConntrackLab } from './conntrack-lab';

// UDP destinations and how many flows (sockets) go to each: all stay UNREPLIED.
const UDP = [
  { daddr: '10.9.0.1', dport: 5001, flows: 1 },
  { daddr: '10.9.0.2', dport: 5002, flows: 2 },
  { daddr: '10.9.0.3', dport: 5003, flows: 3 },
  { daddr: 'fd09::1', dport: 5301, flows: 2 },
];
// TCP connections over lo, held open: ESTABLISHED and ASSURED.
const TCP = { daddr: '127.0.0.1', dport: 7000, flows: 4 };

const udpGroups: ConntrackGroup[] = UDP.map((u) => ({ ...u, proto: 17, state: '', unreplied: u.flows, assured: 0 }));
const tcpGroup: ConntrackGroup = { ...TCP, proto: 6, state: 'ESTABLISHED', unreplied: 0, assured: TCP.flows };

// Runs in the netns: makes the flows, prints "ready", keeps the TCP connections until stdin closes.
const FLOWS = `
const dgram = require('node:dgram'), net = require('node:net');
const { udp, tcp } = JSON.parse(process.argv[1]);
(async () => {
  for (const u of udp) for (let i = 0; i < u.flows; i++) {
    const s = dgram.createSocket(u.daddr.includes(':') ? 'udp6' : 'udp4');
    await new Promise((ok, fail) => s.send('x', u.dport, u.daddr, (e) => (e ? fail(e) : ok())));
    s.close();
  }
  const server = net.createServer();
  await new Promise((ok) => server.listen(tcp.dport, tcp.daddr, ok));
  let accepted = 0;
  const all = new Promise((ok) => server.on('connection', () => ++accepted === tcp.flows && ok()));
  for (let i = 0; i < tcp.flows; i++) net.connect(tcp.dport, tcp.daddr);
  await all;
  process.stdout.write('ready\\n');
  process.stdin.on('end', () => process.exit(0)).resume();
})().catch((e) => { console.error(e); process.exit(1); });
`;

const byKey = (groups: ConntrackGroup[]) =>
  [...groups].sort((a, b) => `${a.daddr}:${a.dport}`.localeCompare(`${b.daddr}:${b.dport}`));

/** `conntrack -S`: counters summed over its per-CPU lines, and how many lines. */
async function conntrackS(ns: string): Promise<{ sums: Record<string, number>; cpus: number }> {
  const lines = (await nsRun(ns, 'conntrack', ['-S'])).stdout.trim().split('\n');
  const sums: Record<string, number> = {};
  for (const line of lines) {
    for (const [, name, value] of line.matchAll(/(\w+)=(\d+)/g)) if (name !== 'cpu') sums[name!] = (sums[name!] ?? 0) + Number(value);
  }
  return { sums, cpus: lines.length };
}

async function conntrackCount(ns: string): Promise<number> {
  return Number((await nsRun(ns, 'conntrack', ['-C'])).stdout.trim());
}

const isError = (code: string, syscall: string, message: RegExp) => (err: NativeError) => {
  assert.equal(err.code, code);
  assert.equal(err.syscall, syscall);
  assert.match(err.message, message);
  return true;
};

describe('conntrack over ctnetlink', { skip: kernelSkip }, () => {
  let lab: ConntrackLab;
  let flows: ChildProcess;

  before(async () => {
    lab = await conntrackLab('fwct');
    flows = spawn('ip', ['netns', 'exec', lab.ns, process.execPath, '-e', FLOWS, JSON.stringify({ udp: UDP, tcp: TCP })], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      flows.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
      flows.once('exit', (code) => reject(new Error(`the flow maker exited with ${code}`)));
    });
  });

  after(async () => {
    if (flows && flows.exitCode === null) {
      const exited = new Promise((r) => flows.once('exit', r));
      flows.stdin!.end();
      await exited;
    }
    await lab?.remove();
  });

  test('groups every flow by original destination, protocol and TCP state', async () => {
    assert.deepEqual(byKey(await aggregateConntrack({ netns: lab.ns })), byKey([...udpGroups, tcpGroup]));
  });

  test('largest groups come first', async () => {
    const flowsSeen = (await aggregateConntrack({ netns: lab.ns })).map((g) => g.flows);
    assert.deepEqual(flowsSeen, [...flowsSeen].sort((a, b) => b - a));
  });

  test('a family picks its flows', async () => {
    assert.deepEqual(await aggregateConntrack({ netns: lab.ns, family: 6 }), udpGroups.filter((g) => g.daddr.includes(':')));
    assert.deepEqual(
      byKey(await aggregateConntrack({ netns: lab.ns, family: 4 })),
      byKey([...udpGroups.filter((g) => !g.daddr.includes(':')), tcpGroup]),
    );
  });

  test('the status filter returns only the unreplied flows, or only the replied ones', async () => {
    assert.deepEqual(byKey(await aggregateConntrack({ netns: lab.ns, status: UNREPLIED })), byKey(udpGroups));
    assert.deepEqual(await aggregateConntrack({ netns: lab.ns, status: REPLIED }), [tcpGroup]);
  });

  test('maxGroups keeps the largest and sums the rest into one "*" group', async () => {
    const groups = await aggregateConntrack({ netns: lab.ns, maxGroups: 2 });
    assert.deepEqual(groups.slice(0, 2).map((g) => g.flows), [4, 3]);
    assert.deepEqual(groups[2], { daddr: '*', dport: 0, proto: 0, state: '', flows: 5, unreplied: 5, assured: 0 });
  });

  test('stats: every counter conntrack -S shows, the entry count and nf_conntrack_max', async () => {
    const stats = await readConntrackStats(lab.ns);
    const cli = await conntrackS(lab.ns);
    for (const name of ['found', 'invalid', 'insert', 'insert_failed', 'drop', 'early_drop', 'error', 'search_restart', 'clash_resolve', 'chaintoolong']) {
      assert.ok(Number.isInteger(stats.counters[name]), `${name} missing: ${JSON.stringify(stats.counters)}`);
    }
    for (const [name, value] of Object.entries(cli.sums)) assert.equal(stats.counters[name], value, name);
    assert.equal(stats.cpus, cli.cpus);
    assert.equal(stats.entries, await conntrackCount(lab.ns));
    assert.equal(stats.entries, 12);
    assert.equal(stats.max, Number(readFileSync('/proc/sys/net/netfilter/nf_conntrack_max', 'utf8')));
  });

  test('stats: insert rises when an entry is inserted', async () => {
    // The kernel counts `insert` where an entry is added from outside the packet path (ctnetlink).
    const entry = ['-p', 'udp', '-s', '192.0.2.1', '-d', '192.0.2.2', '--sport', '1', '--dport', '2'];
    const before = await readConntrackStats(lab.ns);
    await nsRun(lab.ns, 'conntrack', ['-I', ...entry, '-t', '60']);
    try {
      const after = await readConntrackStats(lab.ns);
      assert.equal(after.counters.insert, before.counters.insert! + 1);
      assert.equal(after.entries, before.entries + 1);
    } finally {
      await nsRun(lab.ns, 'conntrack', ['-D', ...entry]);
    }
  });

  test('a netns that does not exist is ENOENT; a file that is not a netns is EINVAL', async () => {
    await assert.rejects(aggregateConntrack({ netns: 'fwct-missing' }), isError('ENOENT', 'open', /\/run\/netns\/fwct-missing/));
    await assert.rejects(readConntrackStats('/proc/self/status'), isError('EINVAL', 'setns', /not a network namespace/));
  });

  test('bad arguments are refused before they reach the addon', async () => {
    await assert.rejects(aggregateConntrack({ netns: '../etc' }), TypeError);
    await assert.rejects(aggregateConntrack({ family: 5 as 4 }), TypeError);
    await assert.rejects(aggregateConntrack({ status: { value: 0, mask: 0 } }), TypeError);
    await assert.rejects(aggregateConntrack({ status: { value: 4, mask: 2 } }), /outside mask/);
    await assert.rejects(aggregateConntrack({ maxGroups: -1 }), TypeError);
  });

  test('without CAP_NET_ADMIN: EPERM that says so', { skip: spawnSync('capsh', ['--help']).error && 'needs capsh' }, () => {
    const mod = path.resolve(__dirname, '../../src/kernel/conntrack.js');
    const script = `require(${JSON.stringify(mod)}).readConntrackStats().then(() => console.log('{}'), (e) => console.log(JSON.stringify({ code: e.code, syscall: e.syscall, message: e.message })))`;
    const child = spawnSync('capsh', ['--drop=cap_net_admin', '--', '-c', `exec ${process.execPath} -e "$0"`, script], { encoding: 'utf8' });
    const err = JSON.parse(child.stdout) as NativeError;
    assert.equal(err.code, 'EPERM');
    assert.equal(err.syscall, 'IPCTNL_MSG_CT_GET_STATS_CPU');
    assert.match(err.message, /CAP_NET_ADMIN/);
  });

  test('many concurrent calls, some failing, all settle right and every thread is back in our netns', async () => {
    const expected = byKey([...udpGroups, tcpGroup]);
    const calls = Array.from({ length: 64 }, (_, i) => {
      if (i % 4 === 0) return aggregateConntrack({ netns: 'fwct-missing' }).then(() => assert.fail('resolved'), (e: NativeError) => assert.equal(e.code, 'ENOENT'));
      if (i % 4 === 1) return readConntrackStats(lab.ns).then((s) => assert.equal(s.entries, 12));
      if (i % 4 === 2) return aggregateConntrack({ netns: lab.ns, status: UNREPLIED }).then((g) => assert.equal(g.length, UDP.length));
      return aggregateConntrack({ netns: lab.ns }).then((g) => assert.deepEqual(byKey(g), expected));
    });
    await Promise.all(calls);
    const own = readlinkSync('/proc/self/ns/net');
    for (const task of readdirSync('/proc/self/task')) assert.equal(readlinkSync(`/proc/self/task/${task}/ns/net`), own, `thread ${task}`);
  });
});

describe('conntrack DESTROY events: flows that died unanswered', { skip: kernelSkip }, () => {
  let lab: ConntrackLab;
  before(async () => {
    lab = await conntrackLab('fwctw');
  });
  after(async () => {
    await lab?.remove();
  });

  // Entries made through ctnetlink: no packets needed, status and state as given.
  const insert = (proto: string, daddr: string, sport: number, dport: number, extra: string[] = []) =>
    nsRun(lab.ns, 'conntrack', ['-I', '-p', proto, '-s', '10.8.0.1', '-d', daddr, '--sport', String(sport), '--dport', String(dport), '-t', '120', ...extra]);

  /** Drains until `done` holds for everything drained so far. */
  async function drainUntil(watch: ConntrackDeathWatch, done: (groups: ConntrackGroup[], overflows: number) => boolean) {
    const groups: ConntrackGroup[] = [];
    let overflows = 0;
    let delivered = 0;
    await eventually(() => {
      const d = watch.drain();
      groups.push(...d.groups);
      overflows += d.overflows;
      delivered += d.delivered;
      return done(groups, overflows);
    }, 'DESTROY events');
    return { groups, overflows, delivered };
  }
  const flows = (groups: ConntrackGroup[]) => groups.reduce((n, g) => n + g.flows, 0);

  test('counts unreplied deaths by original destination and TCP state; answered flows stay in the kernel', async () => {
    const watch = await watchConntrackDeaths({ netns: lab.ns });
    try {
      await insert('udp', '10.9.0.1', 40001, 6001);
      await insert('udp', '10.9.0.1', 40002, 6001);
      await insert('udp', '10.9.0.2', 40003, 6002);
      await insert('tcp', '10.9.0.3', 40004, 80, ['--state', 'SYN_SENT']);
      for (let i = 0; i < 20; i++) await insert('tcp', '10.9.0.4', 40100 + i, 80, ['--state', 'ESTABLISHED', '-u', 'SEEN_REPLY,ASSURED']);
      await insert('udp', '10.9.0.5', 40005, 53, ['-u', 'SEEN_REPLY']);
      await nsRun(lab.ns, 'conntrack', ['-F']);
      const { groups, overflows, delivered } = await drainUntil(watch, (g) => flows(g) >= 4);
      assert.equal(overflows, 0);
      assert.equal(delivered, 4, 'the socket\'s filter lets only the unanswered entries\' events through');
      assert.deepEqual(byKey(groups), [
        { daddr: '10.9.0.1', dport: 6001, proto: 17, state: '', flows: 2, unreplied: 2, assured: 0 },
        { daddr: '10.9.0.2', dport: 6002, proto: 17, state: '', flows: 1, unreplied: 1, assured: 0 },
        { daddr: '10.9.0.3', dport: 80, proto: 6, state: 'SYN_SENT', flows: 1, unreplied: 1, assured: 0 },
      ]);
    } finally {
      watch.stop();
    }
  });

  test('past maxGroups destinations, deaths are summed under "*"', async () => {
    const watch = await watchConntrackDeaths({ netns: lab.ns, maxGroups: 1 });
    try {
      for (let i = 1; i <= 3; i++) await insert('udp', `10.9.1.${i}`, 41000 + i, 7000);
      await nsRun(lab.ns, 'conntrack', ['-F']);
      const { groups } = await drainUntil(watch, (g) => flows(g) >= 3);
      assert.equal(groups.filter((g) => g.daddr !== '*').length, 1);
      assert.equal(groups.find((g) => g.daddr === '*')?.flows, 2);
    } finally {
      watch.stop();
    }
  });

  test('a burst while the event loop is blocked overflows the queue: counted, not fatal', async () => {
    const watch = await watchConntrackDeaths({ netns: lab.ns });
    try {
      await udpflood(lab.ns, { dst: '10.9.2.1', firstPort: 1000, ports: 20_000, count: 20_000 });
      // execFileSync blocks the loop: 20k events meet a 1 MiB queue nobody reads
      execFileSync('ip', ['netns', 'exec', lab.ns, 'conntrack', '-F'], { stdio: 'ignore' });
      const { groups, overflows } = await drainUntil(watch, (_, o) => o > 0);
      assert.ok(overflows > 0);
      assert.ok(flows(groups) < 20_000, `${flows(groups)} deaths counted`);
    } finally {
      watch.stop();
    }
  });

  test('stop() while events are in flight, stop() twice, start again', async () => {
    const watch = new (addon().ConntrackWatch)();
    await watch.start({ netnsPath: `/run/netns/${lab.ns}`, maxGroups: 10 });
    await udpflood(lab.ns, { dst: '10.9.3.1', firstPort: 1000, ports: 5000, count: 5000 });
    const flush = nsRun(lab.ns, 'conntrack', ['-F']);
    await new Promise((r) => setTimeout(r, 5));
    watch.stop();
    watch.stop();
    await flush;
    assert.throws(() => watch.drain(), notStarted);
    await watch.start({ netnsPath: `/run/netns/${lab.ns}`, maxGroups: 10 });
    await assert.rejects(watch.start({ netnsPath: '', maxGroups: 10 }), alreadyStarted('ConntrackWatch'));
    watch.stop();
  });

  test('a missing netns is ENOENT; stop() during start() leaves nothing open', async () => {
    await assert.rejects(watchConntrackDeaths({ netns: 'fwct-missing' }), isError('ENOENT', 'open', /fwct-missing/));
    const watch = new (addon().ConntrackWatch)();
    const starting = watch.start({ netnsPath: `/run/netns/${lab.ns}`, maxGroups: 10 });
    const again = watch.start({ netnsPath: '', maxGroups: 10 });
    watch.stop();
    await assert.rejects(again, alreadyStarted('ConntrackWatch'), 'a start under way refuses another');
    await starting;
    assert.throws(() => watch.drain(), notStarted);
    await watch.start({ netnsPath: `/run/netns/${lab.ns}`, maxGroups: 10 });
    watch.stop();
  });
});
