// Throwaway network namespaces for tests that load real rules; removed whatever happens.
import { randomBytes } from 'node:crypto';
import { rootSkip } from '../helpers/env';
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
