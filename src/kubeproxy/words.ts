// A cursor over the words of one rule line, split as iptables-restore does (xtables add_param_to_argv):
// blanks separate words, `"` opens and closes quoting anywhere in a word and is removed, `\` escapes the next
// character inside quotes only. Words are not copied until asked for: at 80,000 rules a dump has a million
// words, and slicing each one cost more than the rest of the parse.

const QUOTE = 34;
const BACKSLASH = 92;

function blank(c: number): boolean {
  return c === 32 || c === 9 || c === 13;
}

export class Words {
  /** the text holding the line, which is text[from..end) */
  line = '';
  /** the current word is line[start..end), unless it had quotes */
  start = 0;
  end = 0;
  quoted = false;
  unbalanced = false;
  private pos = 0;
  private stop = 0;
  private text = '';

  reset(text: string, from: number, end: number): void {
    this.line = text;
    this.pos = from;
    this.stop = end;
    this.unbalanced = false;
  }

  /** Moves to the next word; false at the end of the line or at an unclosed quote (`unbalanced`). */
  next(): boolean {
    const l = this.line;
    const n = this.stop;
    let i = this.pos;
    while (i < n && blank(l.charCodeAt(i))) i++;
    if (i >= n) return false;
    this.start = i;
    let c = 0;
    while (i < n && !blank((c = l.charCodeAt(i))) && c !== QUOTE) i++;
    this.quoted = i < n && c === QUOTE;
    if (!this.quoted) {
      this.end = this.pos = i;
      return true;
    }
    let word = l.slice(this.start, i);
    while (i < n && !blank((c = l.charCodeAt(i)))) {
      if (c !== QUOTE) {
        const from = i;
        while (i < n && !blank((c = l.charCodeAt(i))) && c !== QUOTE) i++;
        word += l.slice(from, i);
        continue;
      }
      for (i++; ; ) {
        // inside quotes: copy up to the closing quote, unescaping
        let j = i;
        let d = 0;
        while (j < n && (d = l.charCodeAt(j)) !== QUOTE && d !== BACKSLASH) j++;
        if (j >= n || (d === BACKSLASH && j + 1 >= n)) {
          this.unbalanced = true;
          return false;
        }
        word += l.slice(i, j);
        if (d === QUOTE) {
          i = j + 1;
          break;
        }
        word += l[j + 1];
        i = j + 2;
      }
    }
    this.text = word;
    this.end = this.pos = i;
    return true;
  }

  value(): string {
    return this.quoted ? this.text : this.line.slice(this.start, this.end);
  }

  /** The current word, unquoted, is exactly `word`. */
  is(word: string): boolean {
    return !this.quoted && this.end - this.start === word.length && this.line.startsWith(word, this.start);
  }

  /** The next word is a value: quoted, or neither an option nor `!`. Does not move. */
  peekValue(): boolean {
    const l = this.line;
    const n = this.stop;
    let i = this.pos;
    while (i < n && blank(l.charCodeAt(i))) i++;
    if (i >= n) return false;
    const c = l.charCodeAt(i);
    return c === QUOTE || (c !== 45 && !(c === 33 && (i + 1 === n || blank(l.charCodeAt(i + 1)))));
  }
}
