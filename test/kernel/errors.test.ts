import assert from 'node:assert/strict';
import { test } from 'node:test';
import { missingBtf } from '../../src/kernel/errors';
import { describeSystemError } from '../../src/observe/errors';

test('missingBtf names the file and what to do', () => {
  assert.equal(missingBtf('/nonexistent/vmlinux'), 'no BTF at /nonexistent/vmlinux: check --btf-path');
  assert.equal(missingBtf('/dev/null'), null);
});

test('describeSystemError: capabilities, an unbuilt addon, anything else', () => {
  const eperm = Object.assign(new Error('x'), { code: 'EPERM', syscall: 'bpf_prog_load' });
  assert.equal(describeSystemError(eperm, 'loading BPF'), 'EPERM loading BPF (bpf_prog_load): needs CAP_BPF and CAP_PERFMON (or root)');
  assert.match(describeSystemError(new Error('No native build was found for platform=linux'), 'loading BPF'), /^native addon not built: run npm run build/);
  assert.equal(describeSystemError(Object.assign(new Error('bad map\nmore'), { code: 'EINVAL' }), 'x'), 'EINVAL bad map');
  assert.equal(describeSystemError('plain', 'x'), 'plain');
});
