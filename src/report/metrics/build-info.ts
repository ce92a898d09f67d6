import { Gauge, type Registry } from 'prom-client';
import type { BuildInfo } from '../../build-info';

/** flapwatch_build_info: always 1, its labels say what runs (node_exporter's node_exporter_build_info does the same). */
export function buildInfoMetric(registry: Registry, info: BuildInfo): void {
  new Gauge({
    name: 'flapwatch_build_info',
    help: 'Always 1: the version of flapwatch, the git revision it was built from and the Node.js running it',
    labelNames: ['version', 'revision', 'node_version'],
    registers: [registry],
  }).set({ version: info.version, revision: info.revision, node_version: info.nodeVersion }, 1);
}
