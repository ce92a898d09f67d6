import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { missingBtf } from '../../src/kernel/errors';
import { describeSystemError, hasCapabilities } from '../../src/observe/errors';
import { tempDir } from '../kube/kubeconfig';

test('missingBtf names the file and what to do', () => {
  assert.equal(missingBtf('/nonexistent/vmlinux'), 'no BTF at /nonexistent/vmlinux: check --btf-path');
  assert.equal(missingBtf('/dev/null'), null);
});

test('describeSystemError: capabilities, a seccomp profile, an unbuilt addon, anything else', () => {
  const eperm = Object.assign(new Error('x'), { code: 'EPERM', syscall: 'bpf_prog_load' });
  const lacking = () => false;
  assert.equal(describeSystemError(eperm, 'loading BPF', undefined, lacking), 'EPERM loading BPF (bpf_prog_load): needs CAP_BPF and CAP_PERFMON (or root)');
  // the capabilities are there and bpf() still says EPERM: the container runtime's seccomp profile said no
  assert.match(describeSystemError(eperm, 'loading BPF', undefined, () => true), /^EPERM loading BPF \(bpf_prog_load\) although the process holds CAP_BPF and CAP_PERFMON: the container runtime's seccomp profile blocks bpf\(\)/);
  // a cgroup attach needs NET_ADMIN too: holding BPF and PERFMON alone blames no seccomp profile
  const attach = Object.assign(new Error('x'), { code: 'EPERM', syscall: 'bpf_program__attach_cgroup' });
  const bpfOnly = (caps: readonly number[]) => caps.every((c) => c === 38 || c === 39);
  const needs = 'CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN';
  assert.equal(describeSystemError(attach, 'loading the DNS tracer', needs, bpfOnly), `EPERM loading the DNS tracer (bpf_program__attach_cgroup): needs ${needs} (or root)`);
  assert.match(describeSystemError(attach, 'loading the DNS tracer', needs, () => true), /although the process holds CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN: the container runtime's seccomp/);
  const notBpf = Object.assign(new Error('x'), { code: 'EPERM', syscall: 'mnl_socket_bind' });
  assert.match(describeSystemError(notBpf, 'reading conntrack', 'CAP_NET_ADMIN', () => true), /needs CAP_NET_ADMIN/);
  assert.match(describeSystemError(new Error('No native build was found for platform=linux'), 'loading BPF'), /^native addon not built: run npm run build/);
  assert.equal(describeSystemError(Object.assign(new Error('bad map\nmore'), { code: 'EINVAL' }), 'x'), 'EINVAL bad map');
  assert.equal(describeSystemError('plain', 'x'), 'plain');
});

test('hasCapabilities reads the effective set of /proc/PID/status', () => {
  const tmp = tempDir('fw-caps-');
  try {
    const status = `${tmp.dir}/status`;
    writeFileSync(status, 'Name:\tnode\nCapEff:\t000000c000000000\n'); // CAP_PERFMON and CAP_BPF only
    assert.equal(hasCapabilities([38, 39], status), true);
    assert.equal(hasCapabilities([12], status), false, 'no CAP_NET_ADMIN');
    writeFileSync(status, 'Name:\tnode\n');
    assert.equal(hasCapabilities([38], status), false);
    assert.equal(hasCapabilities([38], `${tmp.dir}/missing`), false);
  } finally {
    tmp.remove();
  }
});
