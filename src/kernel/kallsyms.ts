// Kernel addresses → `symbol+0xoff`, from /proc/kallsyms. The table (~120k text symbols) is read once, on the
// first lookup, into a sorted BigUint64Array; lookups are a binary search with a bounded cache in front.
import { readFileSync } from 'node:fs';

export interface SymbolTable {
  /** ascending */
  addrs: BigUint64Array;
  names: string[];
}

// Only code symbols: a drop location is a return address inside a function.
const TEXT_TYPES = new Set(['t', 'T', 'w', 'W']);
// No function is this large: a bigger offset means the address lies past the symbols we know.
const MAX_OFFSET = 0x100000n;

/** Parses kallsyms text (`ffffffff81f62a50 T nft_do_chain\t[nf_tables]`); zero addresses (hidden by kptr_restrict) are skipped. */
export function parseKallsyms(text: string): SymbolTable {
  const entries: Array<[bigint, string]> = [];
  for (const line of text.split('\n')) {
    const [hex, type, name] = line.split(/\s+/, 3);
    if (!name || !TEXT_TYPES.has(type)) continue;
    const addr = BigInt(`0x${hex}`);
    if (addr !== 0n) entries.push([addr, name]);
  }
  entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return { addrs: BigUint64Array.from(entries, (e) => e[0]), names: entries.map((e) => e[1]) };
}

/** `nft_do_chain+0x2a1` → `nft_do_chain`; an unresolved `0x…` stays as it is. */
export function functionOf(location: string): string {
  const plus = location.indexOf('+');
  return plus < 0 ? location : location.slice(0, plus);
}

export function formatAddress(addr: bigint): string {
  return `0x${addr.toString(16)}`;
}

export class Kallsyms {
  private table: SymbolTable | undefined;
  private readonly cache = new Map<bigint, string>();

  constructor(
    private readonly path = '/proc/kallsyms',
    private readonly cacheSize = 4096,
  ) {}

  resolve(addr: bigint): string {
    const hit = this.cache.get(addr);
    if (hit !== undefined) return hit;
    const text = lookup(this.load(), addr);
    // Map keeps insertion order: dropping the first key evicts the oldest entry.
    if (this.cache.size >= this.cacheSize) this.cache.delete(this.cache.keys().next().value as bigint);
    this.cache.set(addr, text);
    return text;
  }

  private load(): SymbolTable {
    if (!this.table) {
      try {
        this.table = parseKallsyms(readFileSync(this.path, 'utf8'));
      } catch {
        // No kallsyms (a locked-down container): every location prints as a raw address.
        this.table = { addrs: new BigUint64Array(0), names: [] };
      }
    }
    return this.table;
  }
}

/** The symbol at or below addr, with the offset into it; addresses outside the known symbols stay raw. */
export function lookup(table: SymbolTable, addr: bigint): string {
  const { addrs, names } = table;
  let lo = 0;
  let hi = addrs.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (addrs[mid] <= addr) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  if (found < 0 || addr - addrs[found] >= MAX_OFFSET) return formatAddress(addr);
  return `${names[found]}+${formatAddress(addr - addrs[found])}`;
}
