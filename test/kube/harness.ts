// A fake API server, a kubeconfig pointing at it, and a KubeSource on it with a logger whose lines a test reads.
import { Writable } from 'node:stream';
import pino from 'pino';
import { KubeSource, type KubeSourceOptions } from '../../src/kube/source';
import { ServiceIndex } from '../../src/services/index';
import type { ServicePort } from '../../src/observe/objects';
import { FakeApiServer, type FakeOptions } from './fake-apiserver';
import { selfSignedCert } from '../helpers/tls';
import { tempDir, TOKEN, writeKubeconfig } from './kubeconfig';

export const NODE = 'node-a';

export interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

export function captureLogger(): { logger: pino.Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as LogLine);
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

/** An index that remembers every publish. */
export class RecordingIndex extends ServiceIndex {
  readonly publishes: ServicePort[][] = [];

  override publish(source: 'rules' | 'kubernetes', ports: readonly ServicePort[]): void {
    if (source === 'kubernetes') this.publishes.push([...ports]);
    super.publish(source, ports);
  }
}

export interface Harness {
  fake: FakeApiServer;
  source: KubeSource;
  index: RecordingIndex;
  lines: LogLine[];
  kubeconfig: string;
  close: () => Promise<void>;
}

/** Fast backoff, so that retries happen within a test; nothing waits on a clock. */
export const TEST_BACKOFF = { initialMs: 20, maxMs: 200 };

let tls: { cert: Buffer; key: Buffer } | undefined;

/** One certificate per test process (the client refuses plain HTTP unless told to skip TLS checks). */
export function testTls(): { cert: Buffer; key: Buffer } {
  if (!tls) {
    const tmp = tempDir();
    tls = selfSignedCert(tmp.dir);
    tmp.remove();
  }
  return tls;
}

export async function harness(o: { fake?: FakeOptions; source?: Partial<KubeSourceOptions>; before?: (fake: FakeApiServer) => void } = {}): Promise<Harness> {
  const fake = await FakeApiServer.start({ token: TOKEN, tls: testTls(), ...o.fake });
  o.before?.(fake);
  const tmp = tempDir();
  const kubeconfig = writeKubeconfig(tmp.dir, fake.url, { ca: testTls().cert });
  const { logger, lines } = captureLogger();
  const index = new RecordingIndex();
  const source = new KubeSource({ kubeconfig, nodeName: NODE, logger, backoff: TEST_BACKOFF, publishIntervalMs: 20, ...o.source });
  source.onServices((ports) => index.publish('kubernetes', ports));
  return {
    fake, source, index, lines, kubeconfig,
    close: async () => {
      await source.stop();
      await fake.close();
      tmp.remove();
    },
  };
}
