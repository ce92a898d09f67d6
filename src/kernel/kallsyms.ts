// Kernel addresses → the function they lie in, from /proc/kallsyms. The addon resolves a batch of new addresses in
// one streaming pass on a worker thread and keeps nothing: the whole symbol table in JS would cost more memory than
// the rest of the daemon, for the few dozen places a node drops packets. Resolved names are cached here, in a
// bounded map.
import { addon, type Addon } from '../native';

export interface SymbolResolver {
  /** resolves what the cache lacks; never rejects (an unreadable file leaves raw addresses) */
  prepare(addrs: Iterable<bigint>): Promise<void>;
  /** `nft_do_chain`, or `0x…` for an address prepare() did not resolve */
  resolve(addr: bigint): string;
}

export function formatAddress(addr: bigint): string {
  return `0x${addr.toString(16)}`;
}

export class Kallsyms implements SymbolResolver {
  private readonly cache = new Map<bigint, string>();

  constructor(
    private readonly path = '/proc/kallsyms',
    private readonly cacheSize = 4096,
    private readonly native: () => Pick<Addon, 'resolveKernelAddresses'> = addon,
  ) {}

  async prepare(addrs: Iterable<bigint>): Promise<void> {
    const unknown = [...new Set(addrs)].filter((a) => !this.cache.has(a));
    if (unknown.length === 0) return;
    // No kallsyms (a locked-down container) or no resolver: raw addresses, cached so that nothing is retried
    // every drain. A drop is still counted when its location cannot be named.
    let names: (string | null)[];
    try {
      names = await this.native().resolveKernelAddresses(this.path, unknown);
    } catch {
      names = unknown.map(() => null);
    }
    unknown.forEach((addr, i) => this.remember(addr, names[i] ?? formatAddress(addr)));
  }

  resolve(addr: bigint): string {
    return this.cache.get(addr) ?? formatAddress(addr);
  }

  private remember(addr: bigint, name: string): void {
    // Map keeps insertion order: dropping the first key evicts the oldest entry.
    if (this.cache.size >= this.cacheSize) this.cache.delete(this.cache.keys().next().value as bigint);
    this.cache.set(addr, name);
  }
}
