// What `graph` and `rca` share: a client of --prometheus, and its failures as one line on stderr and exit code 2.
import { PrometheusClient, PrometheusError } from '../cluster/prometheus';
import type { PrometheusConfig } from '../prometheus-config';

/** Runs `report` with a client of c.prometheus and prints what it returns; resolves to the exit code. */
export async function askPrometheus(c: PrometheusConfig, report: (prom: PrometheusClient) => Promise<string>): Promise<number> {
  try {
    process.stdout.write(await report(new PrometheusClient({ url: c.prometheus, timeoutMs: c.timeoutMs })));
    return 0;
  } catch (err) {
    if (!(err instanceof PrometheusError)) throw err;
    process.stderr.write(`flapwatch: ${err.message}\n`);
    return 2;
  }
}
