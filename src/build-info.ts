// What runs: package.json's version, the git revision it was built from (scripts/build-info.js writes it beside
// this file at build and pack time) and the Node.js running it. For --version and flapwatch_build_info.
import { readFileSync } from 'node:fs';
import path from 'node:path';

export interface BuildInfo {
  version: string;
  revision: string;
  nodeVersion: string;
}

function readJson(file: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch {
    return {}; // a build made without the script: "unknown" says so
  }
}

export function buildInfo(): BuildInfo {
  // dist/src → the package's root, in the repository, the image and an installed package alike
  const pkg = readJson(path.join(__dirname, '..', '..', 'package.json'));
  const built = readJson(path.join(__dirname, 'build-info.json'));
  return {
    version: typeof pkg.version === 'string' ? pkg.version : 'unknown',
    revision: typeof built.revision === 'string' ? built.revision : 'unknown',
    nodeVersion: process.version,
  };
}

export function versionLine(info: BuildInfo = buildInfo()): string {
  return `flapwatch ${info.version} (revision ${info.revision}, Node.js ${info.nodeVersion})`;
}
