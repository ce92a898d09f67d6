// Conntrack over ctnetlink on the real kernel, in a throwaway netns holding flows we made and know.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import {
  aggregateConntrack,
  readConntrackStats,
  REPLIED,
  UNREPLIED,
  unrepliedFlows,
  type ConntrackGroup,
} from '../../src/kernel/conntrack';
import { ConntrackSource } from '../../src/kernel/conntrack-source';
import type { NativeError } from '../../src/native';
import { kernelSkip } from '../helpers/env';
import { nsRun } from '../lab/netns';
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

describe('UNREPLIED dumps: flows waiting for a reply, and those that died so', { skip: kernelSkip }, () => {
  let lab: ConntrackLab;
  before(async () => {
    lab = await conntrackLab('fwctw');
  });
  after(async () => {
    await lab?.remove();
  });

  // Entries made through ctnetlink: no packets needed, status, state and timeout as given.
  const insert = (proto: string, daddr: string, sport: number, dport: number, extra: string[] = [], timeout = 120) =>
    nsRun(lab.ns, 'conntrack', ['-I', '-p', proto, '-s', '10.8.0.1', '-d', daddr, '--sport', String(sport), '--dport', String(dport), '-t', String(timeout), ...extra]);
  const expire = () => new Promise((r) => setTimeout(r, 2100)); // a 1 s timeout read as 1 has run out
  const flows = (groups: ConntrackGroup[]) => groups.reduce((n, g) => n + g.flows, 0);

  test('a flow whose timeout runs out unanswered died; answered, deleted or still waiting, it did not', async () => {
    const watch = unrepliedFlows({ netns: lab.ns });
    try {
      await insert('udp', '10.9.0.1', 40001, 6001, [], 1);
      await insert('udp', '10.9.0.1', 40002, 6001, [], 1);
      await insert('udp', '10.9.0.2', 40003, 6002, [], 1);
      await insert('tcp', '10.9.0.3', 40004, 80, ['--state', 'SYN_SENT'], 1);
      await insert('udp', '10.9.0.4', 40005, 6004); // answered below
      await insert('udp', '10.9.0.5', 40006, 6005); // deleted below
      await insert('udp', '10.9.0.6', 40007, 6006); // waits on
      for (let i = 0; i < 20; i++) await insert('tcp', '10.9.0.7', 40100 + i, 80, ['--state', 'ESTABLISHED', '-u', 'SEEN_REPLY,ASSURED'], 1);
      const first = await watch.dump();
      assert.deepEqual(first.died, [], 'nothing seen before: nothing died');
      assert.equal(flows(first.waiting), 7, 'the kernel copies out only the unanswered');
      await nsRun(lab.ns, 'conntrack', ['-U', '-p', 'udp', '-d', '10.9.0.4', '-u', 'SEEN_REPLY']);
      await nsRun(lab.ns, 'conntrack', ['-D', '-p', 'udp', '-d', '10.9.0.5']);
      await expire();
      const { waiting, died, unfollowed } = await watch.dump();
      assert.equal(unfollowed, 0);
      assert.deepEqual(byKey(died), [
        { daddr: '10.9.0.1', dport: 6001, proto: 17, state: '', flows: 2, unreplied: 2, assured: 0 },
        { daddr: '10.9.0.2', dport: 6002, proto: 17, state: '', flows: 1, unreplied: 1, assured: 0 },
        { daddr: '10.9.0.3', dport: 80, proto: 6, state: 'SYN_SENT', flows: 1, unreplied: 1, assured: 0 },
      ]);
      assert.deepEqual(waiting.map((g) => g.daddr), ['10.9.0.6']);
      assert.deepEqual((await watch.dump()).died, [], 'a death counts once');
    } finally {
      await nsRun(lab.ns, 'conntrack', ['-F']);
    }
  });

  test('past maxGroups destinations, deaths are summed under "*"; past maxFlows, flows are counted, not followed', async () => {
    const watch = unrepliedFlows({ netns: lab.ns, maxGroups: 1, maxFlows: 2 });
    try {
      for (let i = 1; i <= 3; i++) await insert('udp', `10.9.1.${i}`, 41000 + i, 7000, [], 1);
      assert.equal((await watch.dump()).unfollowed, 1);
      await expire();
      const { died } = await watch.dump();
      assert.equal(died.filter((g) => g.daddr !== '*').length, 1);
      assert.equal(died.find((g) => g.daddr === '*')?.flows, 1);
    } finally {
      await nsRun(lab.ns, 'conntrack', ['-F']);
    }
  });

  test('ConntrackSource: the deaths come with the reading that dumps, once', async () => {
    const source = new ConntrackSource({ netns: lab.ns, unrepliedIntervalMs: 10_000, logger: pino({ level: 'silent' }) });
    await source.start();
    try {
      await insert('udp', '10.9.2.1', 42001, 8000, [], 1);
      const first = await source.read(0);
      assert.deepEqual(first?.unreplied?.map((g) => g.daddr), ['10.9.2.1']);
      await expire();
      assert.deepEqual((await source.read(5_000))?.diedUnreplied, [], 'no dump between, no deaths');
      const dumped = await source.read(10_000);
      assert.deepEqual(dumped?.diedUnreplied.map((g) => [g.daddr, g.flows]), [['10.9.2.1', 1]]);
      assert.deepEqual(dumped?.unreplied, []);
    } finally {
      await source.stop();
      await nsRun(lab.ns, 'conntrack', ['-F']);
    }
  });

  test('one dump at a time; a missing netns is ENOENT and the next dump works', async () => {
    const watch = unrepliedFlows({ netns: lab.ns });
    const dumping = watch.dump();
    await assert.rejects(watch.dump(), /UnrepliedFlows.dump: a dump is under way/);
    await dumping;
    await watch.dump();
    const missing = unrepliedFlows({ netns: 'fwct-missing' });
    await assert.rejects(missing.dump(), (e: NativeError) => e.code === 'ENOENT');
    await assert.rejects(missing.dump(), (e: NativeError) => e.code === 'ENOENT', 'a failed dump leaves no dump under way');
  });
});
