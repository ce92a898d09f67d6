// V8 keeps a hidden class (map) only while some object has it. Once a full GC has collected the last parser of
// a read, the next read's objects get new hidden classes, and the optimized code built for the old ones is
// thrown away ("weak objects" in --trace-deopt) and compiled again, at the cost of a read after every full GC.
// One idle instance of each class, kept for good, keeps its hidden classes and code (a kept parser keeps its
// Words, Interner and ReusedRule; a kept DumpSink its model builder).
const kept: object[] = [];

export function keepHiddenClass(instance: object): void {
  kept.push(instance);
}
