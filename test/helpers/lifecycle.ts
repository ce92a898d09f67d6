// The errors the addon's long-lived objects give for a call their state does not allow (src/native.ts).
import assert from 'node:assert/strict';
import type { NativeError } from '../../src/native';

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
  assert.match(err.message, /^(DropTracer|DnsTracer|ConntrackWatch)\.\w+: not started$/);
  return true;
};
