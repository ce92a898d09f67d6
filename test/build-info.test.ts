// What a build says it is: --version and flapwatch_build_info carry package.json's version, the git revision
// scripts/build-info.js wrote at build time (from git, or FLAPWATCH_REVISION where there is no .git) and the
// Node.js that runs it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { buildInfo } from '../src/build-info';
import { createRegistry } from '../src/report/metrics/registry';
import { buildInfoMetric } from '../src/report/metrics/build-info';

const ROOT = path.join(__dirname, '..', '..');
const SCRIPT = path.join(ROOT, 'scripts', 'build-info.js');
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
const git = (...args: string[]) => spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' });
const gitSkip = git('rev-parse', 'HEAD').status === 0 ? undefined : 'needs git and the repository\'s .git';

/** Runs scripts/build-info.js into a temporary file; what it wrote. */
function written(env: Record<string, string | undefined>): { revision: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'flapwatch-build-info-'));
  try {
    const out = path.join(dir, 'build-info.json');
    const r = spawnSync(process.execPath, [SCRIPT, out], { encoding: 'utf8', env: { ...process.env, ...env } });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(readFileSync(out, 'utf8')) as { revision: string };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('build info', () => {
  test('the build wrote a revision of this repository', { skip: gitSkip }, () => {
    const { revision } = buildInfo();
    assert.match(revision, /^[0-9a-f]{40}$/);
    assert.equal(git('cat-file', '-e', `${revision}^{commit}`).status, 0, `${revision} is a commit here`);
  });

  test('scripts/build-info.js takes the revision from git, or from FLAPWATCH_REVISION when given', { skip: gitSkip }, () => {
    assert.equal(written({ FLAPWATCH_REVISION: undefined }).revision, git('rev-parse', 'HEAD').stdout.trim());
    assert.equal(written({ FLAPWATCH_REVISION: 'f'.repeat(40) }).revision, 'f'.repeat(40));
  });

  test('flapwatch --version', () => {
    const r = spawnSync(process.execPath, [path.join(__dirname, '..', 'src', 'cli.js'), '--version'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `flapwatch ${pkg.version} (revision ${buildInfo().revision}, Node.js ${process.version})\n`);
  });

  test('flapwatch_build_info is 1, labelled with what runs', async () => {
    const registry = createRegistry();
    buildInfoMetric(registry, { version: '1.2.3', revision: 'abc', nodeVersion: 'v20.1.0' });
    const text = await registry.metrics();
    assert.match(text, /^# TYPE flapwatch_build_info gauge$/m);
    assert.match(text, /^flapwatch_build_info\{version="1\.2\.3",revision="abc",node_version="v20\.1\.0"\} 1$/m);
  });
});
