// deploy/Dockerfile, read: it copies only files that exist and that its .dockerignore admits, downloads nothing
// but from registries, the runtime stage's packages provide every shared library the addon loads and every
// command flapwatch runs (asked of this Debian 12 host's dpkg: the image is Debian 12 too), what runs in the image
// imports only production dependencies (the build prunes the others), and its labels say what it is.
// test/image/image.test.ts builds it and runs it.
import { DAEMON_ENV, DAEMON_NODE_FLAGS } from '../../bench/proc';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { describe, test } from 'node:test';
import { aptPackages, base, copies, dockerfile } from './dockerfile';
import { DEPLOY, ROOT } from './manifests';
import { run, toolSkip } from './tools';

const [build, runtime] = dockerfile;

/** The forms of .dockerignore this file uses (`*`, `!path`, `!dir/`); anything else is refused, not guessed. */
function admitted(file: string, ignore: string): boolean {
  let ok = true;
  for (const raw of ignore.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))) {
    const keep = raw.startsWith('!');
    const pattern = keep ? raw.slice(1) : raw;
    if (pattern !== '*' && /[*?[\]]/.test(pattern)) throw new Error(`the check does not read .dockerignore pattern ${raw}`);
    const dir = pattern.replace(/\/$/, '');
    if (pattern === '*' || file === dir || file.startsWith(`${dir}/`)) ok = keep;
  }
  return ok;
}

/** The daemon's TypeScript sources: what the image runs. */
function sourceFiles(dir = path.join(ROOT, 'src')): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Commands flapwatch's code runs: literal first elements of the argv arrays it hands to its runners. */
function commandsRun(): string[] {
  // a template's placeholders and the values they take (dumps.ts): a new one fails here until listed
  const values: Record<string, string[]> = { 'TOOL[family]': ['iptables', 'ip6tables'], backend: ['nft', 'legacy'] };
  const found = new Set<string>();
  for (const f of sourceFiles()) {
    for (const m of readFileSync(f, 'utf8').matchAll(/\b(?:exists|stream|run|spawn|execFile|execFileSync|spawnSync)\(\s*\[\s*(['`])([^'`]+)\1/g)) {
      let names = [m[2]!];
      for (const [, key] of m[2]!.matchAll(/\$\{([^}]+)\}/g)) {
        if (!values[key!]) throw new Error(`${f}: a command built from \${${key}}: list its values in this test`);
        names = names.flatMap((n) => values[key!]!.map((v) => n.replace(`\${${key}}`, v)));
      }
      names.forEach((n) => found.add(n));
    }
  }
  return [...found].sort();
}

const dpkgSkip = toolSkip('dpkg-query', ['--version'], 'a Debian host, whose dpkg says which package ships a file');
/** Packages shipping `file`; with merged /usr, dpkg may know /usr/bin/x as /bin/x. */
function packagesOf(file: string): string[] {
  for (const f of [file, file.replace(/^\/usr\//, '/')]) {
    const r = run('dpkg-query', ['-S', f]);
    if (r.code === 0) return r.stdout.split('\n').filter(Boolean).flatMap((l) => l.split(':')[0]!.split(', '));
  }
  return [];
}
const ownPackage = (p: string) => p.replace(/:\w+$/, '');
// in debian:bookworm-slim already (apt needs them): what the addon and Node's own binary link besides
const BASE_IMAGE = new Set(['libc6', 'libstdc++6', 'libgcc-s1']);

describe('deploy/Dockerfile', () => {
  test('two stages: an official Node image with the BPF toolchain builds, a slim Debian of the same release runs', () => {
    assert.equal(dockerfile.length, 2);
    assert.equal(base(build!), 'node:20-bookworm');
    assert.equal(base(runtime!), 'debian:bookworm-slim');
    for (const p of ['clang', 'llvm', 'libbpf-dev', 'libelf-dev', 'zlib1g-dev', 'libmnl-dev', 'bpftool', 'g++', 'make', 'python3']) assert.ok(aptPackages(build!).includes(p), p);
    assert.deepEqual(aptPackages(runtime!).filter((p) => /-dev$|^clang|^llvm|^bpftool|^conntrack$|^g\+\+|^gcc|^make$|^python/.test(p)), []);
    assert.ok(build!.steps.some((i) => i.op === 'RUN' && /npm ci --ignore-scripts/.test(i.args)));
    assert.ok(build!.steps.some((i) => i.op === 'RUN' && /npm run build/.test(i.args) && /npm prune --omit=dev/.test(i.args)));
  });

  test('downloads only from registries: node-gyp compiles against the build image\'s own Node headers', () => {
    // node-gyp takes npm_config_nodedir from the environment; without it, it fetches headers from nodejs.org
    assert.ok(build!.steps.some((i) => i.op === 'ENV' && i.args === 'npm_config_nodedir=/usr/local'));
    const gypIndex = build!.steps.findIndex((i) => /npm run build/.test(i.args));
    assert.ok(build!.steps.findIndex((i) => i.op === 'ENV' && /nodedir/.test(i.args)) < gypIndex);
    for (const s of dockerfile) for (const i of s.steps) assert.doesNotMatch(i.args, /\b(curl|wget|ADD https?:)/, `${i.op} ${i.args}`);
  });

  test('the runtime takes Node\'s binary from the build image, and nothing else of Node\'s', () => {
    const node = copies(runtime!).filter((c) => c.sources.some((src) => src.startsWith('/usr/local')));
    assert.deepEqual(node, [{ from: build!.name, sources: ['/usr/local/bin/node'], dest: '/usr/local/bin/node' }]);
  });

  test('its OCI labels: what it is from package.json, version, revision and time from the build\'s arguments', () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as Record<string, string>;
    const label = runtime!.steps.find((i) => i.op === 'LABEL')!.args;
    const labels = Object.fromEntries([...label.matchAll(/org\.opencontainers\.image\.(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    assert.deepEqual(labels, {
      title: pkg.name, description: pkg.description, source: labels.source, licenses: pkg.license,
      version: '$VERSION', revision: '$REVISION', created: '$CREATED',
    });
    assert.match(labels.source!, /^https:\/\/\S+$/);
    for (const a of ['VERSION', 'REVISION', 'CREATED']) assert.ok(runtime!.steps.some((i) => i.op === 'ARG' && i.args === `${a}=`), `ARG ${a}`);
    const script = readFileSync(path.join(ROOT, 'scripts', 'build-image.sh'), 'utf8');
    for (const a of ['VERSION', 'REVISION', 'CREATED']) assert.match(script, new RegExp(`--build-arg ${a}=`), `build-image.sh passes ${a}`);
  });

  test('copies only files that exist and that Dockerfile.dockerignore admits', () => {
    const ignore = readFileSync(path.join(DEPLOY, 'Dockerfile.dockerignore'), 'utf8');
    const local = dockerfile.flatMap(copies).filter((c) => c.from === undefined).flatMap((c) => c.sources);
    assert.ok(local.length >= 6);
    for (const src of local) {
      assert.ok(existsSync(path.join(ROOT, src)), `${src} exists`);
      assert.ok(admitted(src, ignore), `${src} is in the build context`);
    }
    for (const kept of ['node_modules', 'build', 'dist', '.git']) assert.equal(admitted(kept, ignore), false, `${kept} stays out`);
  });

  test('the runtime copies what the build stage makes, where the code looks for it', () => {
    const fromBuild = copies(runtime!).filter((c) => c.from === build!.name);
    const tsconfig = JSON.parse(readFileSync(path.join(ROOT, 'tsconfig.json'), 'utf8')) as { compilerOptions: { outDir: string; rootDir: string } };
    const gyp = readFileSync(path.join(ROOT, 'binding.gyp'), 'utf8');
    assert.equal(tsconfig.compilerOptions.outDir, 'dist');
    assert.equal(tsconfig.compilerOptions.rootDir, '.');
    assert.match(gyp, /"target_name": "flapwatch",/);
    for (const produced of ['dist/src', 'build/Release/flapwatch.node', 'node_modules', 'package.json']) {
      assert.ok(fromBuild.some((c) => c.sources.includes(`/src/${produced}`)), `copies /src/${produced}`);
      assert.ok(existsSync(path.join(ROOT, produced)), `scripts/setup.sh's build made ${produced} here too`);
    }
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    const entry = runtime!.steps.find((i) => i.op === 'ENTRYPOINT')!.args;
    // the image runs the daemon as the benchmarks measured it: node's flags and environment (bench/proc.ts)
    assert.deepEqual(JSON.parse(entry), ['node', ...DAEMON_NODE_FLAGS, `/opt/flapwatch/${pkg.bin.flapwatch}`]);
    for (const [k, v] of Object.entries(DAEMON_ENV)) assert.ok(runtime!.steps.some((i) => i.op === 'ENV' && i.args === `${k}=${v}`), `ENV ${k}=${v}`);
    assert.equal(runtime!.steps.find((i) => i.op === 'WORKDIR')?.args, '/opt/flapwatch');
  });

  test('the runtime packages ship every library the addon loads', { skip: dpkgSkip ?? toolSkip('ldd', ['--version'], 'libc-bin') }, () => {
    const libs = [...run('ldd', [path.join(ROOT, 'build/Release/flapwatch.node')]).stdout.matchAll(/^\s*(\S+\.so[.\d]*)\s/gm)].map((m) => m[1]!);
    assert.ok(libs.includes('libbpf.so.1') && libs.includes('libmnl.so.0'), libs.join(' '));
    const installed = new Set([...aptPackages(runtime!), ...BASE_IMAGE]);
    for (const lib of libs.filter((l) => !l.startsWith('linux-vdso'))) {
      const owners = packagesOf(`*/${path.basename(lib)}`).map(ownPackage);
      assert.ok(owners.some((o) => installed.has(o)), `${lib} (from ${owners.join(', ') || 'no package'}) is in the runtime image`);
    }
  });

  test('the runtime packages ship every command flapwatch runs', { skip: dpkgSkip }, () => {
    const commands = commandsRun();
    assert.deepEqual(commands, ['ip', 'ip6tables-legacy-save', 'ip6tables-nft-save', 'iptables-legacy-save', 'iptables-nft-save', 'nft']);
    const installed = new Set(aptPackages(runtime!));
    for (const cmd of commands) {
      const where = run('sh', ['-c', `readlink -f "$(command -v ${cmd})"`]).stdout.trim();
      const owners = packagesOf(where).map(ownPackage);
      assert.ok(owners.some((o) => installed.has(o)), `${cmd} (${where}, from ${owners.join(', ') || 'no package'}) is in the runtime image`);
    }
  });

  test('what runs in the image imports only production dependencies', () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const allowed = new Set([...Object.keys(pkg.dependencies), ...builtinModules]);
    for (const f of sourceFiles()) {
      const text = readFileSync(f, 'utf8');
      for (const m of text.matchAll(/^import (?!type )[^'"]*?from '([^'.][^']*)'|\b(?:require|import)\('([^'.][^']*)'\)/gm)) {
        const spec = (m[1] ?? m[2])!.replace(/^node:/, '');
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
        assert.ok(allowed.has(name), `${path.relative(ROOT, f)} imports ${spec}, which npm prune --omit=dev removes`);
      }
    }
  });
});
