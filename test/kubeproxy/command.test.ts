// CommandError names the cause of a failure from the tools' real error output, never the caret line under it.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CommandError, run } from '../../src/kubeproxy/command';
import { needsRoot, withNetns } from './netns';

async function failure(netns: string, argv: string[]): Promise<string> {
  const r = await run(argv, { netns });
  assert.notEqual(r.code, 0, `${argv.join(' ')} was meant to fail`);
  return new CommandError(argv, r.code, r.stderr).message;
}

test('CommandError: the cause line of nft and iptables errors, with the text the carets point at', { skip: needsRoot }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fw-cmd-'));
  try {
    await withNetns(async (netns) => {
      assert.equal(await failure(netns, ['nft', '-j', 'list', 'table', 'ip', 'filter']),
        'nft -j list table ip filter: Error: No such file or directory: list table ip filter (at "filter")');
      assert.equal(await failure(netns, ['nft', '-j', 'list', 'map', 'ip6', 'kube-proxy', 'firewall-ips']),
        'nft -j list map ip6 kube-proxy firewall-ips: Error: No such file or directory: list map ip6 kube-proxy firewall-ips (at "kube-proxy")');
      assert.equal(await failure(netns, ['nft', 'add', 'rule', 'ip', 'filter', 'FOO', 'drop']),
        'nft add rule ip filter FOO drop: Error: Could not process rule: No such file or directory: add rule ip filter FOO drop (at "filter")');

      const badMatch = join(dir, 'bad-match.rules');
      writeFileSync(badMatch, '*filter\n-A INPUT -m nosuchmatch -j ACCEPT\nCOMMIT\n');
      for (const tool of ['iptables-nft-restore', 'iptables-legacy-restore']) {
        const message = await failure(netns, [tool, badMatch]);
        assert.match(message, /: iptables(-nft)?-restore v[\d.]+ \((nf_tables|legacy)\): Couldn't load match `nosuchmatch':No such file or directory \(line: 2\)$/);
      }
      const noChain = join(dir, 'no-chain.rules');
      writeFileSync(noChain, '*filter\n-A NOPE -j DROP\nCOMMIT\n');
      assert.match(await failure(netns, ['iptables-nft-restore', noChain]), /: iptables-nft-restore: line 2 failed: No chain\/target\/match by that name\.$/);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('CommandError: a silent failure says its exit code', () => {
  assert.equal(new CommandError(['false'], 1, '\n').message, 'false: exit code 1');
});
