// A cursor over the words of one rule line, in the dump's bytes, split as iptables-restore does (xtables
// add_param_to_argv): blanks separate words, `"` opens and closes quoting anywhere in a word and is removed,
// `\` escapes the next character inside quotes only. No string is made until a value is asked for: at 80,000
// rules a dump has a million words, and decoding the text, let alone each word, was most of the parse's
// time and garbage.
import { decode, equal, type Interner } from './interner';

const QUOTE = 34;
const BACKSLASH = 92;

// what ends a word: 1 blank, 2 quote
const ENDS = new Uint8Array(256);
ENDS[32] = ENDS[9] = ENDS[13] = 1;
ENDS[QUOTE] = 2;

function blank(c: number): boolean {
  return ENDS[c] === 1;
}

export class Words {
  /** the bytes holding the line */
  line: Buffer = Buffer.alloc(0);
  /** the current word is line[start..end), quotes included */
  start = 0;
  end = 0;
  /** the word had quotes: its value, unquoted, is in `unquoted` */
  quoted = false;
  unbalanced = false;
  private pos = 0;
  private stop = 0;
  private unquoted = Buffer.allocUnsafe(256);
  private length = 0;

  reset(line: Buffer, from: number, end: number): void {
    this.line = line;
    this.pos = from;
    this.stop = end;
    this.unbalanced = false;
  }

  /** Moves to the next word; false at the end of the line or at an unclosed quote (`unbalanced`). */
  next(): boolean {
    const l = this.line;
    const n = this.stop;
    let i = this.pos;
    while (i < n && blank(l[i]!)) i++;
    if (i >= n) return false;
    this.start = i;
    while (i < n && ENDS[l[i]!] === 0) i++;
    this.quoted = i < n && l[i] === QUOTE;
    if (!this.quoted) {
      this.end = this.pos = i;
      return true;
    }
    this.length = 0;
    this.copy(this.start, i);
    while (i < n && !blank(l[i]!)) {
      if (l[i] !== QUOTE) {
        const from = i;
        while (i < n && ENDS[l[i]!] === 0) i++;
        this.copy(from, i);
        continue;
      }
      for (i++; ; ) {
        // inside quotes: copy up to the closing quote, unescaping
        let j = i;
        let d = 0;
        while (j < n && (d = l[j]!) !== QUOTE && d !== BACKSLASH) j++;
        if (j >= n || (d === BACKSLASH && j + 1 >= n)) {
          this.unbalanced = true;
          return false;
        }
        this.copy(i, j);
        if (d === QUOTE) {
          i = j + 1;
          break;
        }
        this.copy(j + 1, j + 2);
        i = j + 2;
      }
    }
    this.end = this.pos = i;
    return true;
  }

  /** Appends line[from..to) to the unquoted value. */
  private copy(from: number, to: number): void {
    if (this.length + to - from > this.unquoted.length) {
      const bigger = Buffer.allocUnsafe(Math.max(2 * this.unquoted.length, this.length + to - from));
      this.unquoted.copy(bigger, 0, 0, this.length);
      this.unquoted = bigger;
    }
    const u = this.unquoted;
    const l = this.line;
    for (let i = from; i < to; i++) u[this.length++] = l[i]!;
  }

  /** The current word, unquoted, less its last `cut` bytes: a new string. */
  value(cut = 0): string {
    return this.quoted ? decode(this.unquoted, 0, this.length - cut) : decode(this.line, this.start, this.end - cut);
  }

  /** The current word, unquoted, as the interner's string: for names, which recur. */
  name(names: Interner): string {
    return this.quoted ? names.get(this.unquoted, 0, this.length) : names.get(this.line, this.start, this.end);
  }

  /**
   * The current word as Number() reads it. Plain decimals of up to 15 digits are read in place: both the digits
   * and the power of ten are exact doubles, so one (correctly rounded) division gives Number()'s result.
   */
  number(): number {
    let n = 0;
    let digits = 0;
    let scale = 1;
    let point = false;
    for (let i = this.start; !this.quoted && i < this.end; i++) {
      const c = this.line[i]!;
      if (c === 46 && !point && digits > 0) point = true;
      else if (c >= 48 && c <= 57 && digits++ < 15) {
        n = n * 10 + (c - 48);
        if (point) scale *= 10;
      } else return Number(this.value());
    }
    return digits > 0 && digits <= 15 && !(point && scale === 1) ? n / scale : Number(this.value());
  }

  /** The current word, unquoted, ends with the ASCII `suffix`. */
  endsWith(suffix: string): boolean {
    if (this.quoted) return this.length >= suffix.length && equal(suffix, this.unquoted, this.length - suffix.length);
    return this.end - this.start >= suffix.length && equal(suffix, this.line, this.end - suffix.length);
  }

  /** The current word, unquoted, is exactly `word`. */
  is(word: string): boolean {
    return !this.quoted && this.end - this.start === word.length && equal(word, this.line, this.start);
  }

  /** The next word is a value: quoted, or neither an option nor `!`. Does not move. */
  peekValue(): boolean {
    const l = this.line;
    const n = this.stop;
    let i = this.pos;
    while (i < n && blank(l[i]!)) i++;
    if (i >= n) return false;
    const c = l[i]!;
    return c === QUOTE || (c !== 45 && !(c === 33 && (i + 1 === n || blank(l[i + 1]!))));
  }
}

