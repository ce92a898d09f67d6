// Text appended straight into one growing Buffer as UTF-8: a large exposition then costs its bytes once, instead
// of a rope of small strings, its flattened copy and the encoded copy a socket sends.
export class ByteWriter {
  private buf: Buffer;
  private at = 0;

  constructor(sizeHint: number) {
    this.buf = Buffer.allocUnsafe(Math.max(sizeHint, 4096));
  }

  write(s: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 unit
    if (this.at + 3 * s.length > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(2 * this.buf.length, this.at + 3 * s.length));
      this.buf.copy(grown, 0, 0, this.at);
      this.buf = grown;
    }
    this.at += this.buf.write(s, this.at);
  }

  /** What was written (a view of the writer's buffer). */
  bytes(): Buffer {
    return this.buf.subarray(0, this.at);
  }
}
