#!/usr/bin/env node
// Writes what `flapwatch --version` and flapwatch_build_info report besides package.json's version: the git
// revision this build is made from. Run after tsc (npm run build:ts) and so at pack time; a build without the
// repository's .git (an image build, whose context leaves it out) passes it in FLAPWATCH_REVISION.
'use strict';
const { execFileSync } = require('node:child_process');
const { mkdirSync, writeFileSync } = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const out = process.argv[2] ?? path.join(root, 'dist', 'src', 'build-info.json');

function gitRevision() {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

const revision = process.env.FLAPWATCH_REVISION || gitRevision();
mkdirSync(path.dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify({ revision: revision || 'unknown' })}\n`);
