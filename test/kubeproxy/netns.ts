// Throwaway network namespaces for tests that load real rules; removed whatever happens.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rootSkip } from '../helpers/env';
import { run as runCommand } from '../../src/kubeproxy/command';
import { nsRun, run } from '../lab/netns';

/** A reason to skip, for node:test's `skip`, or false when this process may create namespaces. */
export const needsRoot: string | false = rootSkip ?? false;

export async function withNetns<T>(fn: (ns: string) => Promise<T>): Promise<T> {
  const ns = `fwkp${randomBytes(4).toString('hex')}`;
  await run('ip', ['netns', 'add', ns]);
  try {
    return await fn(ns);
  } finally {
    await run('ip', ['netns', 'del', ns]);
  }
}

export type Backend = 'nft' | 'legacy';

/** Loads an iptables-restore input with one backend's tools. */
export async function loadIptables(ns: string, backend: Backend, rules: string, family: 'ipv4' | 'ipv6' = 'ipv4'): Promise<void> {
  await nsRun(ns, `${family === 'ipv6' ? 'ip6tables' : 'iptables'}-${backend}-restore`, ['-w'], { input: rules, timeoutMs: 120_000 });
}

export async function saveIptables(ns: string, backend: Backend, args: string[] = ['-c']): Promise<string> {
  return (await nsRun(ns, `iptables-${backend}-save`, args, { timeoutMs: 120_000 })).stdout;
}

export async function loadNft(ns: string, rules: string): Promise<void> {
  await nsRun(ns, 'nft', ['-f', '-'], { input: rules, timeoutMs: 120_000 });
}

export async function nftJson(ns: string, args: string[]): Promise<string> {
  return (await nsRun(ns, 'nft', ['-j', ...args], { timeoutMs: 120_000 })).stdout;
}

/** TCP connects to a rejected ClusterIP from inside the namespace: each one is a packet (or more) on the reject rule. */
export async function refuse(netns: string, ip: string, port: number, times: number): Promise<void> {
  // a route for the address (this kernel has no dummy links: a veth pair)
  await nsRun(netns, 'ip', ['link', 'add', 'fw0', 'type', 'veth', 'peer', 'name', 'fw1']).catch(() => undefined);
  for (const dev of ['lo', 'fw0', 'fw1']) await nsRun(netns, 'ip', ['link', 'set', dev, 'up']);
  await nsRun(netns, 'ip', ['route', 'replace', `${ip}/32`, 'dev', 'fw0']);
  for (let i = 0; i < times; i++) {
    const r = await runCommand(['bash', '-c', `exec 3<>/dev/tcp/${ip}/${port}`], { netns });
    assert.match(r.stderr, /refused/);
  }
}
