// The repository's small C tools (test/tools/*.c, bench/*.c), compiled on demand into build/c-tools/.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { run } from './netns';

const ROOT = path.resolve(__dirname, '../../..'); // dist/test/lab → repo root

function mtime(file: string): number {
  return fs.statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? -1;
}

/** The binary of `source` (relative to the repository), compiled only when missing or older than its source. */
export async function buildCTool(source: string, libs: string[] = []): Promise<string> {
  const src = path.join(ROOT, source);
  const binary = path.join(ROOT, 'build', 'c-tools', path.basename(source, '.c'));
  if (mtime(binary) < mtime(src)) {
    fs.mkdirSync(path.dirname(binary), { recursive: true });
    const tmp = `${binary}.${process.pid}`; // renamed into place so a concurrent run never executes half a file
    await run('cc', ['-O2', '-Wall', '-o', tmp, src, ...libs]);
    fs.renameSync(tmp, binary);
  }
  return binary;
}
