// `flapwatch rca`: the root of a cascade, cluster-wide, from Prometheus: the failing Services ranked as root
// candidates, with the evidence for each (src/cluster/rca.ts, docs/rca.md).
import { reportingNodes } from '../cluster/graph-read';
import { rankRoots } from '../cluster/rca';
import { readRca } from '../cluster/rca-read';
import { formatRcaJson, formatRcaText } from '../report/rca-format';
import type { RcaConfig } from '../prometheus-config';
import { askPrometheus } from './ask-prometheus';

/** Resolves to the exit code: 0 answered (also when nothing failed), 2 Prometheus could not answer. */
export function runRca(c: RcaConfig): Promise<number> {
  return askPrometheus(c, async (prom) => {
    const atMs = c.atMs ?? Date.now();
    const [input, nodes] = await Promise.all([readRca(prom, { window: c.window, windowMs: c.windowMs, atMs }), reportingNodes(prom, c.window, atMs)]);
    const report = { result: rankRoots(input), window: c.window, atMs, nodes };
    return c.json ? formatRcaJson(report) : formatRcaText(report);
  });
}
