// How a root-cause ranking scores over cases, the way RCAEval scores methods: AC@k is the share of a case's true
// roots found in the top k (of at most k roots), averaged over the cases; Avg@5 the mean of AC@1 … AC@5.

export interface RankedCase {
  /** the ranking, best first */
  ranked: readonly string[];
  /** the true roots */
  roots: readonly string[];
}

export function acAt(k: number, cases: readonly RankedCase[]): number {
  if (!cases.length) return 0;
  const one = (c: RankedCase) => c.roots.filter((r) => c.ranked.slice(0, k).includes(r)).length / Math.min(k, c.roots.length);
  return cases.reduce((n, c) => n + one(c), 0) / cases.length;
}

export function avgAt5(cases: readonly RankedCase[]): number {
  return [1, 2, 3, 4, 5].reduce((n, k) => n + acAt(k, cases), 0) / 5;
}
