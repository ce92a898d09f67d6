// The same string object for equal values: tens of thousands of endpoints and pods name a few hundred nodes and
// namespaces, which would otherwise be kept once per object.
export class StringPool {
  private readonly strings = new Map<string, string>();

  get(s: string): string {
    const known = this.strings.get(s);
    if (known !== undefined) return known;
    this.strings.set(s, s);
    return s;
  }
}
