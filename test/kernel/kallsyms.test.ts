import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { functionOf, Kallsyms, lookup, parseKallsyms } from '../../src/kernel/kallsyms';

const FIXTURE = [
  'ffffffff81000000 T _stext',
  'ffffffff81f62a40 T __pfx_nft_do_chain',
  'ffffffff81f62a50 T nft_do_chain',
  'ffffffff82a00000 D some_data',
  'ffffffff81c00000 t nf_hook_slow',
  'ffffffffc0010000 t mod_func\t[some_mod]',
  '0000000000000000 T hidden_by_kptr_restrict',
  '',
].join('\n');

test('parseKallsyms keeps code symbols sorted and skips data and zero addresses', () => {
  const t = parseKallsyms(FIXTURE);
  assert.deepEqual(t.names, ['_stext', 'nf_hook_slow', '__pfx_nft_do_chain', 'nft_do_chain', 'mod_func']);
  assert.deepEqual([...t.addrs], [0xffffffff81000000n, 0xffffffff81c00000n, 0xffffffff81f62a40n, 0xffffffff81f62a50n, 0xffffffffc0010000n]);
});

test('lookup gives symbol+offset, the module name dropped', () => {
  const t = parseKallsyms(FIXTURE);
  assert.equal(lookup(t, 0xffffffff81f62cf1n), 'nft_do_chain+0x2a1');
  assert.equal(lookup(t, 0xffffffff81f62a50n), 'nft_do_chain+0x0');
  assert.equal(lookup(t, 0xffffffff81c00010n), 'nf_hook_slow+0x10');
  assert.equal(lookup(t, 0xffffffffc0010042n), 'mod_func+0x42');
});

test('addresses outside the known symbols stay raw', () => {
  const t = parseKallsyms(FIXTURE);
  assert.equal(lookup(t, 0x1234n), '0x1234');
  assert.equal(lookup(t, 0xffffffffc0ff0000n), '0xffffffffc0ff0000'); // far past the last symbol
  assert.equal(lookup(parseKallsyms(''), 0xffffffff81f62a50n), '0xffffffff81f62a50');
});

test('functionOf strips the offset', () => {
  assert.equal(functionOf('nft_do_chain+0x2a1'), 'nft_do_chain');
  assert.equal(functionOf('0xffffffff81f62a50'), '0xffffffff81f62a50');
});

test('Kallsyms reads the file once, lazily, and bounds its cache', () => {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'kallsyms-')), 'kallsyms');
  const syms = new Kallsyms(file, 2);
  writeFileSync(file, FIXTURE); // written after construction: nothing was read yet
  assert.equal(syms.resolve(0xffffffff81f62cf1n), 'nft_do_chain+0x2a1');
  writeFileSync(file, '');
  assert.equal(syms.resolve(0xffffffff81c00010n), 'nf_hook_slow+0x10'); // still the first read
  assert.equal(syms.resolve(0xffffffff81000001n), '_stext+0x1');
  assert.equal((syms as unknown as { cache: Map<bigint, string> }).cache.size, 2);
});

test('an unreadable kallsyms leaves raw addresses', () => {
  assert.equal(new Kallsyms('/nonexistent/kallsyms').resolve(0xffn), '0xff');
});
