// The errors the addon's long-lived objects give for a call their state does not allow (src/native.ts).
import assert from 'node:assert/strict';
import type { NativeError } from '../../src/native';
import { programIdsHeldBy } from './env';

/** start() while started or starting: EALREADY, "<Class>.start: already started". */
export const alreadyStarted = (cls: string) => (err: NativeError) => {
  assert.equal(err.code, 'EALREADY');
  assert.equal(err.errno, -114);
  assert.equal(err.syscall, `${cls}.start`);
  assert.equal(err.message, `${cls}.start: already started`);
  return true;
};

/** A method that needs a started object: EINVAL, "<Class>.<method>: not started". */
export const notStarted = (err: NativeError) => {
  assert.equal(err.code, 'EINVAL');
  assert.match(err.message, /^(DropTracer|DnsTracer|ConnTracker|NetnsIterator)\.\w+: not started$/);
  return true;
};

/**
 * Two starts and a stop() at once: the second start is refused, the first ends stopped (drain() says not started),
 * and no program stays loaded.
 */
export async function startsWhileStarting<O>(cls: string, tracer: { start(o: O): Promise<unknown>; drain(): Promise<unknown>; stop(): void }, options: O): Promise<void> {
  const first = tracer.start(options);
  const second = tracer.start(options);
  tracer.stop();
  await assert.rejects(second, alreadyStarted(cls));
  await first;
  await assert.rejects(tracer.drain(), notStarted);
  assert.deepEqual(programIdsHeldBy(process.pid), []);
}
