// One string and one number per distinct name in a dump, looked up by its bytes. A dump names each chain three
// to five times (declaration, rules, jumps): decoding each mention made a string per mention; sharing them, and
// numbering them, lets the model builder join chains in arrays instead of string-keyed maps.

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
// a slot: id + 1 (0: empty), hash, where the name's length and bytes are in the arena, unused
const SLOT = 4;

function mix(h: number, w: number): number {
  h = Math.imul(h ^ w, 0x85ebca6b);
  return h ^ (h >>> 13);
}

export class Interner {
  /** the number get() or idOf() gave last: names are numbered from 0 in the order they are first seen */
  id = -1;
  private slots = new Int32Array(1024 * SLOT);
  private readonly names: string[] = [];
  // A hit is confirmed against the name's length and bytes kept here, a word at a time: comparing the string's
  // characters one by one (charCodeAt against the buffer) cost four times the hash.
  private arena = new Int32Array(8192);
  private used = 0;
  /** the looked-up name's bytes as words, made while hashing */
  private words = new Int32Array(16);
  /** names that are not ASCII, which bytes alone cannot find (none of kube-proxy's) */
  private readonly others = new Map<string, number>();

  /** The string of b[s..e): the same string, and number, each time. */
  get(b: Buffer, s: number, e: number): string {
    const n = e - s;
    const words = this.room(n);
    let h = Math.imul(n, 0x9e3779b1);
    let high = 0;
    let i = s;
    let k = 0;
    for (; i + 4 <= e; i += 4) {
      const w = b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24);
      words[k++] = w;
      high |= w;
      h = mix(h, w);
    }
    if (i < e) {
      let w = 0;
      for (let shift = 0; i < e; i++, shift += 8) w |= b[i]! << shift;
      words[k] = w;
      high |= w;
      h = mix(h, w);
    }
    if ((high & HIGH_BITS) !== 0) return this.other(decode(b, s, e));
    const slot = this.find(n, h);
    return slot >= 0 ? this.names[(this.id = this.slots[slot]! - 1)]! : this.add(~slot, n, h, ascii(b, s, e));
  }

  /** The number of `name`, a string from elsewhere (a copied rule): numbered as get() numbers its bytes. */
  idOf(name: string): number {
    const n = name.length;
    const words = this.room(n);
    let h = Math.imul(n, 0x9e3779b1);
    let k = 0;
    for (let i = 0; i < n; i += 4, k++) {
      let w = 0;
      for (let j = i, shift = 0; j < i + 4 && j < n; j++, shift += 8) {
        const c = name.charCodeAt(j);
        if (c > 127) {
          this.other(name);
          return this.id;
        }
        w |= c << shift;
      }
      words[k] = w;
      h = mix(h, w);
    }
    const slot = this.find(n, h);
    if (slot >= 0) this.id = this.slots[slot]! - 1;
    else this.add(~slot, n, h, name);
    return this.id;
  }

  /** The name numbered `id`. */
  name(id: number): string | undefined {
    return this.names[id];
  }

  private room(n: number): Int32Array {
    if ((n + 3) >> 2 > this.words.length) this.words = new Int32Array(2 * ((n + 3) >> 2));
    return this.words;
  }

  /** The slot holding the name in `words` (n bytes, hash h), or ~ the empty slot where it goes. */
  private find(n: number, h: number): number {
    const { slots, arena, words } = this;
    const count = (n + 3) >> 2;
    const wrap = slots.length - 1;
    for (let slot = Math.imul(h, SLOT) & wrap; ; slot = (slot + SLOT) & wrap) {
      if (slots[slot] === 0) return ~slot;
      if (slots[slot + 1] !== h) continue;
      const from = slots[slot + 2]!;
      if (arena[from] !== n) continue;
      let j = 0;
      while (j < count && arena[from + 1 + j] === words[j]) j++;
      if (j === count) return slot;
    }
  }

  private add(slot: number, n: number, h: number, name: string): string {
    this.id = this.names.length;
    this.names.push(name);
    const { slots } = this;
    slots[slot] = this.id + 1;
    slots[slot + 1] = h;
    slots[slot + 2] = this.keep(n);
    if (this.names.length * 2 * SLOT > slots.length) this.grow();
    return name;
  }

  /** Copies the length and the looked-up words into the arena; returns where. */
  private keep(n: number): number {
    const count = (n + 3) >> 2;
    if (this.used + 1 + count > this.arena.length) {
      const bigger = new Int32Array(Math.max(2 * this.arena.length, this.used + 1 + count));
      bigger.set(this.arena.subarray(0, this.used));
      this.arena = bigger;
    }
    const { arena, words } = this;
    const from = this.used;
    arena[from] = n;
    for (let j = 0; j < count; j++) arena[from + 1 + j] = words[j]!;
    this.used += 1 + count;
    return from;
  }

  private grow(): void {
    const old = this.slots;
    const slots = new Int32Array(old.length * 2);
    const wrap = slots.length - 1;
    for (let at = 0; at < old.length; at += SLOT) {
      if (old[at] === 0) continue;
      let slot = Math.imul(old[at + 1]!, SLOT) & wrap;
      while (slots[slot] !== 0) slot = (slot + SLOT) & wrap;
      for (let k = 0; k < SLOT; k++) slots[slot + k] = old[at + k]!;
    }
    this.slots = slots;
  }

  /** A name that is not ASCII: numbered through a map. */
  private other(name: string): string {
    const id = this.others.get(name);
    if (id !== undefined) return this.names[(this.id = id)]!;
    this.id = this.names.length;
    this.names.push(name);
    this.others.set(name, this.id);
    return name;
  }
}

/** The ASCII string `str` is b[s..s+str.length). */
export function equal(str: string, b: Buffer, s: number): boolean {
  for (let k = 0; k < str.length; k++) if (str.charCodeAt(k) !== b[s + k]) return false;
  return true;
}

