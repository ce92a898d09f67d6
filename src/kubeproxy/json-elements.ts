// Splits streamed `nft -j` output, `{"nftables": [{...}, {...}, ...]}` on one line, into the elements of
// its array, each parsed alone: a large cluster's listing parsed at once would cost several times its size in
// heap.
import { StringDecoder } from 'node:string_decoder';

const SPECIAL = /["\\{}[\]]/g;

export class JsonElements {
  private readonly decoder = new StringDecoder('utf8');
  /** text not yet consumed: from the current element's start, or from where scanning resumes */
  private text = '';
  private resume = 0;
  private depth = 0;
  private inString = false;
  private start = -1;
  bad = 0;

  constructor(private readonly onElement: (element: Record<string, unknown>) => void) {}

  write(chunk: Buffer | string): void {
    const t = (this.text += typeof chunk === 'string' ? chunk : this.decoder.write(chunk));
    let resume = t.length;
    SPECIAL.lastIndex = this.resume;
    for (let m = SPECIAL.exec(t); m; m = SPECIAL.exec(t)) {
      const i = m.index;
      const c = t.charCodeAt(i);
      if (this.inString) {
        if (c === 92) {
          SPECIAL.lastIndex = i + 2; // the escaped character, possibly in the next chunk
          if (i + 2 > resume) resume = i + 2;
        } else if (c === 34) this.inString = false;
      } else if (c === 34) this.inString = true;
      else if (c === 123 || c === 91) {
        if (this.depth === 2 && c === 123) this.start = i;
        this.depth++;
      } else if (c === 125 || c === 93) {
        this.depth--;
        if (this.depth === 2 && this.start >= 0) {
          this.element(t.slice(this.start, i + 1));
          this.start = -1;
        }
      }
    }
    const keep = this.start >= 0 ? this.start : Math.min(resume, t.length);
    this.text = t.slice(keep);
    this.resume = resume - keep;
    if (this.start >= 0) this.start = 0;
  }

  /** False when the listing was cut short. */
  end(): boolean {
    this.write(this.decoder.end());
    return this.depth === 0 && !this.inString;
  }

  private element(text: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      this.bad++;
      return;
    }
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) this.onElement(parsed as Record<string, unknown>);
    else this.bad++;
  }
}
