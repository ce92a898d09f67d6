// One string per distinct name in a dump, looked up by its bytes. A 10,000-Service dump names each of its
// 30,000 chains three to five times (declaration, rules, jumps): decoding each mention was 5 MB of strings
// per read, and sharing them makes the model builder's map lookups pointer comparisons.
import { keepHiddenClass } from './hidden-classes';

// Buffer's own decoder without toString()'s argument checks, a third of its cost for a short name
const utf8Slice = (Buffer.prototype as unknown as { utf8Slice?: (this: Buffer, s: number, e: number) => string }).utf8Slice;

/** Decodes b[s..e) as UTF-8 into a new string (never a slice of a larger one). */
export function decode(b: Buffer, s: number, e: number): string {
  return utf8Slice ? utf8Slice.call(b, s, e) : b.toString(undefined, s, e);
}

export class Interner {
  private strings: (string | undefined)[] = new Array<string | undefined>(1024).fill(undefined);
  private hashes = new Int32Array(1024);
  private size = 0;

  /** The string of b[s..e); the same string each time for ASCII bytes. */
  get(b: Buffer, s: number, e: number): string {
    const n = e - s;
    // every byte counts, four at a time (a multiply per byte was most of a lookup)
    let h = Math.imul(n, 0x9e3779b1);
    let i = s;
    for (; i + 4 <= e; i += 4) {
      h = Math.imul(h ^ (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)), 0x85ebca6b);
      h ^= h >>> 13;
    }
    for (; i < e; i++) h = Math.imul(h ^ b[i]!, 0xc2b2ae35);
    h ^= h >>> 16;
    const { strings, hashes } = this;
    const mask = strings.length - 1;
    let slot = h & mask;
    for (let k = strings[slot]; k !== undefined; k = strings[(slot = (slot + 1) & mask)]) {
      if (hashes[slot] === h && k.length === n && equal(k, b, s)) return k;
    }
    const str = decode(b, s, e);
    // only a string that is its bytes (ASCII) can be found again by comparing them
    if (str.length !== n || !equal(str, b, s)) return str;
    strings[slot] = str;
    hashes[slot] = h;
    if (++this.size * 2 > strings.length) this.grow();
    return str;
  }

  private grow(): void {
    const { strings, hashes } = this;
    this.strings = new Array<string | undefined>(strings.length * 2).fill(undefined);
    this.hashes = new Int32Array(strings.length * 2);
    const mask = this.strings.length - 1;
    for (let i = 0; i < strings.length; i++) {
      const k = strings[i];
      if (k === undefined) continue;
      let slot = hashes[i]! & mask;
      while (this.strings[slot] !== undefined) slot = (slot + 1) & mask;
      this.strings[slot] = k;
      this.hashes[slot] = hashes[i]!;
    }
  }
}

/** The ASCII string `str` is b[s..s+str.length). */
export function equal(str: string, b: Buffer, s: number): boolean {
  for (let k = 0; k < str.length; k++) if (str.charCodeAt(k) !== b[s + k]) return false;
  return true;
}

keepHiddenClass(new Interner());
