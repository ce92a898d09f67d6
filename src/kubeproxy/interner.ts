// One string per distinct name in a dump, looked up by its bytes. A 10,000-Service dump names each of its
// 30,000 chains three to five times (declaration, rules, jumps): decoding each mention was 5 MB of strings
// per read, and sharing them makes the model builder's map lookups pointer comparisons.

/** Decodes b[s..e) as UTF-8 into a new string (never a slice of a larger one). */
export function decode(b: Buffer, s: number, e: number): string {
  return b.toString(undefined, s, e);
}

export class Interner {
  private strings: (string | undefined)[] = new Array<string | undefined>(1024).fill(undefined);
  private hashes = new Int32Array(1024);
  private size = 0;

  /** The string of b[s..e); the same string each time for ASCII bytes. */
  get(b: Buffer, s: number, e: number): string {
    let h = 0x811c9dc5 | 0;
    let high = 0;
    for (let i = s; i < e; i++) {
      const c = b[i]!;
      high |= c;
      h = Math.imul(h ^ c, 16777619);
    }
    if (high & 0x80) return decode(b, s, e); // only ASCII compares byte for character
    const { strings, hashes } = this;
    const mask = strings.length - 1;
    let slot = h & mask;
    for (let k = strings[slot]; k !== undefined; k = strings[(slot = (slot + 1) & mask)]) {
      if (hashes[slot] === h && k.length === e - s && equal(k, b, s)) return k;
    }
    const str = decode(b, s, e);
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
