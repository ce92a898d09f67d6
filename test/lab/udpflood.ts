// Builds test/tools/udpflood.c on demand and runs it inside a netns.
import { buildCTool } from './c-tools';
import { nsRun } from './netns';

export interface FloodOptions {
  dst: string;
  firstPort: number;
  /** Destination ports cycled through (distinct tuples); default 1. */
  ports?: number;
  /** Consecutive destination addresses from `dst`; default 1. */
  addrs?: number;
  /** Exactly one of count and seconds. */
  count?: number;
  seconds?: number;
  payloadBytes?: number;
}

export interface FloodResult { sent: number; errors: number; seconds: number; pps: number }

/** Path of the udpflood binary, compiled only when missing or older than its source. */
export function buildUdpflood(): Promise<string> {
  return buildCTool('test/tools/udpflood.c');
}

export async function udpflood(ns: string, o: FloodOptions): Promise<FloodResult> {
  if ((o.count === undefined) === (o.seconds === undefined)) throw new Error('udpflood: give exactly one of count and seconds');
  const args = ['-d', o.dst, '-p', String(o.firstPort), '-n', String(o.ports ?? 1), '-a', String(o.addrs ?? 1)];
  if (o.count !== undefined) args.push('-c', String(o.count));
  if (o.seconds !== undefined) args.push('-t', String(o.seconds));
  if (o.payloadBytes !== undefined) args.push('-s', String(o.payloadBytes));
  const { stdout } = await nsRun(ns, await buildUdpflood(), args, { timeoutMs: ((o.seconds ?? 0) + 30) * 1000 });
  return JSON.parse(stdout) as FloodResult;
}
