// One string per distinct name in a dump, looked up by its bytes. A 10,000-Service dump names each of its
// 30,000 chains three to five times (declaration, rules, jumps): decoding each mention was 5 MB of strings
// per read, and sharing them makes the model builder's map lookups pointer comparisons.
import { keepHiddenClass } from './hidden-classes';

type Slice = (this: Buffer, s: number, e: number) => string;
// Buffer's own decoders without toString()'s argument checks, a third of its cost for a short name
const proto = Buffer.prototype as unknown as { utf8Slice?: Slice; latin1Slice?: Slice };
const utf8Slice = proto.utf8Slice;
const latin1Slice = proto.latin1Slice;

/** Decodes b[s..e) as UTF-8 into a new string (never a slice of a larger one). */
export function decode(b: Buffer, s: number, e: number): string {
  return utf8Slice ? utf8Slice.call(b, s, e) : b.toString(undefined, s, e);
}

/** Decodes ASCII b[s..e): latin1 reads the same string for those bytes, with no UTF-8 to check. */
function ascii(b: Buffer, s: number, e: number): string {
  return latin1Slice ? latin1Slice.call(b, s, e) : b.toString('latin1', s, e);
}

const HIGH_BITS = 0x80808080 | 0;

export class Interner {
  private strings: (string | undefined)[] = new Array<string | undefined>(1024).fill(undefined);
  private hashes = new Int32Array(1024);
  /** where each string's bytes are in `arena`, four to a word */
  private at = new Int32Array(1024);
  // A hit is confirmed against the name's bytes kept here, a word at a time: comparing the string's characters
  // one by one (charCodeAt against the buffer) cost four times the hash.
  private arena = new Int32Array(8192);
  private used = 0;
  /** the looked-up bytes as words, made while hashing */
  private words = new Int32Array(16);
  private size = 0;

  /** The string of b[s..e); the same string each time for ASCII bytes. */
  get(b: Buffer, s: number, e: number): string {
    const n = e - s;
    const count = (n + 3) >> 2;
    if (count > this.words.length) this.words = new Int32Array(2 * count);
    const words = this.words;
    let h = Math.imul(n, 0x9e3779b1);
    let high = 0;
    let i = s;
    let k = 0;
    for (; i + 4 <= e; i += 4) {
      const w = b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24);
      words[k++] = w;
      high |= w;
      h = Math.imul(h ^ w, 0x85ebca6b);
      h ^= h >>> 13;
    }
    if (i < e) {
      let w = 0;
      for (let shift = 0; i < e; i++, shift += 8) w |= b[i]! << shift;
      words[k] = w;
      high |= w;
      h = Math.imul(h ^ w, 0xc2b2ae35);
    }
    // only a string that is its bytes (ASCII) can be found again by its bytes
    if ((high & HIGH_BITS) !== 0) return decode(b, s, e);
    h ^= h >>> 16;
    const { strings, hashes, at, arena } = this;
    const mask = strings.length - 1;
    let slot = h & mask;
    for (let str = strings[slot]; str !== undefined; str = strings[(slot = (slot + 1) & mask)]) {
      if (hashes[slot] !== h || str.length !== n) continue;
      const from = at[slot]!;
      let j = 0;
      while (j < count && arena[from + j] === words[j]) j++;
      if (j === count) return str;
    }
    const str = ascii(b, s, e);
    strings[slot] = str;
    hashes[slot] = h;
    at[slot] = this.keep(count);
    if (++this.size * 2 > strings.length) this.grow();
    return str;
  }

  /** Copies the looked-up words into the arena; returns where. */
  private keep(count: number): number {
    if (this.used + count > this.arena.length) {
      const bigger = new Int32Array(Math.max(2 * this.arena.length, this.used + count));
      bigger.set(this.arena.subarray(0, this.used));
      this.arena = bigger;
    }
    const { arena, words } = this;
    const from = this.used;
    for (let j = 0; j < count; j++) arena[from + j] = words[j]!;
    this.used += count;
    return from;
  }

  private grow(): void {
    const { strings, hashes, at } = this;
    const size = strings.length * 2;
    this.strings = new Array<string | undefined>(size).fill(undefined);
    this.hashes = new Int32Array(size);
    this.at = new Int32Array(size);
    const mask = size - 1;
    for (let i = 0; i < strings.length; i++) {
      const str = strings[i];
      if (str === undefined) continue;
      let slot = hashes[i]! & mask;
      while (this.strings[slot] !== undefined) slot = (slot + 1) & mask;
      this.strings[slot] = str;
      this.hashes[slot] = hashes[i]!;
      this.at[slot] = at[i]!;
    }
  }
}

/** The ASCII string `str` is b[s..s+str.length). */
export function equal(str: string, b: Buffer, s: number): boolean {
  for (let k = 0; k < str.length; k++) if (str.charCodeAt(k) !== b[s + k]) return false;
  return true;
}

keepHiddenClass(new Interner());
