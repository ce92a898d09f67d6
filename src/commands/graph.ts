// `flapwatch graph`: the service graph from Prometheus, worst edges first.
import { readGraph, reportingNodes } from '../cluster/graph-read';
import { formatGraphDot, formatGraphJson, formatGraphTable, type GraphReport } from '../report/graph-format';
import type { GraphConfig } from '../prometheus-config';
import { askPrometheus } from './ask-prometheus';

const FORMATS: Record<GraphConfig['format'], (r: GraphReport) => string> = { table: formatGraphTable, dot: formatGraphDot, json: formatGraphJson };

/** Resolves to the exit code: 0 shown, 2 Prometheus could not answer. */
export function runGraph(c: GraphConfig): Promise<number> {
  return askPrometheus(c, async (prom) => {
    const atMs = Date.now();
    const [graph, nodes] = await Promise.all([
      readGraph(prom, { window: c.since, atMs, namespace: c.namespace }),
      reportingNodes(prom, c.since, atMs),
    ]);
    return FORMATS[c.format]({ graph, window: c.since, atMs, nodes, namespace: c.namespace });
  });
}
