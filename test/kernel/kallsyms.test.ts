import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Kallsyms } from '../../src/kernel/kallsyms';

// Not sorted, as the real file is not (modules come after the core kernel); data symbols and hidden addresses.
const FIXTURE = [
  'ffffffff81000000 T _stext',
  'ffffffff81f62a40 T __pfx_nft_do_chain',
  'ffffffff81f62a50 T nft_do_chain',
  'ffffffff81f62a60 D some_data',
  'ffffffffc0010000 t mod_func\t[some_mod]',
  'ffffffff81c00000 t nf_hook_slow',
  '0000000000000000 T hidden_by_kptr_restrict',
  '',
].join('\n');

function fixture(): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'fw-kallsyms-')), 'kallsyms');
  writeFileSync(file, FIXTURE);
  return file;
}

test('prepare() resolves addresses to the code symbol at or below them, without the offset', async () => {
  const syms = new Kallsyms(fixture());
  const addrs = [0xffffffff81f62cf1n, 0xffffffff81f62a50n, 0xffffffff81c00010n, 0xffffffffc0010042n];
  await syms.prepare(addrs);
  assert.deepEqual(addrs.map((a) => syms.resolve(a)), ['nft_do_chain', 'nft_do_chain', 'nf_hook_slow', 'mod_func']);
});

test('addresses below every symbol or far past the last one stay raw', async () => {
  const syms = new Kallsyms(fixture());
  await syms.prepare([0x1234n, 0xffffffffc0ff0000n]);
  assert.equal(syms.resolve(0x1234n), '0x1234');
  assert.equal(syms.resolve(0xffffffffc0ff0000n), '0xffffffffc0ff0000');
});

test('an unprepared address prints raw; a missing file leaves raw addresses and never rejects', async () => {
  const syms = new Kallsyms('/nonexistent/kallsyms');
  assert.equal(syms.resolve(0xffn), '0xff');
  await syms.prepare([0xffn]);
  assert.equal(syms.resolve(0xffn), '0xff');
});

test('each address is resolved once, and the cache is bounded', async () => {
  const asked: bigint[][] = [];
  const syms = new Kallsyms('/x', 2, () => ({
    resolveKernelAddresses: async (_p: string, addrs: bigint[]) => {
      asked.push(addrs);
      return addrs.map((a) => `f+0x${a.toString(16)}`);
    },
  }));
  await syms.prepare([1n, 2n, 1n]);
  await syms.prepare([2n]);
  assert.deepEqual(asked, [[1n, 2n]]);
  await syms.prepare([3n]);
  await syms.prepare([1n]); // evicted by 3n: asked again
  assert.deepEqual(asked, [[1n, 2n], [3n], [1n]]);
});

test('the running kernel\'s kallsyms resolves one of its functions', async (t) => {
  const line = readFileSync('/proc/kallsyms', 'utf8').split('\n').find((l) => / T nf_hook_slow$/.test(l));
  if (!line || line.startsWith('0000000000000000')) return t.skip('kallsyms hides addresses here (kptr_restrict, or not root)');
  const addr = BigInt(`0x${line.split(' ')[0]}`);
  const syms = new Kallsyms();
  await syms.prepare([addr + 0x10n]);
  assert.equal(syms.resolve(addr + 0x10n), 'nf_hook_slow');
});

test('a resolver that throws synchronously still leaves raw addresses', async () => {
  const syms = new Kallsyms('/x', 8, () => ({
    resolveKernelAddresses: () => {
      throw new TypeError('not a function');
    },
  }));
  await syms.prepare([0x10n]);
  assert.equal(syms.resolve(0x10n), '0x10');
});
