// What a client needs to reach the fake API server: a kubeconfig file, or an in-cluster ServiceAccount
// directory (for HTTPS: test/helpers/tls.ts).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const TOKEN = 'flapwatch-test-token';

export function tempDir(prefix = 'fw-kube-'): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** JSON is YAML: the client reads it as any kubeconfig. */
export function writeKubeconfig(dir: string, server: string, o: { token?: string; ca?: Buffer; insecure?: boolean } = {}): string {
  const file = path.join(dir, 'kubeconfig');
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{
      name: 'fake',
      cluster: { server, ...(o.ca && { 'certificate-authority-data': o.ca.toString('base64') }), ...(o.insecure && { 'insecure-skip-tls-verify': true }) },
    }],
    users: [{ name: 'fake', user: { token: o.token ?? TOKEN } }],
    contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'fake' } }],
    'current-context': 'fake',
  };
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

/** A ServiceAccount directory as kubelet mounts it: token and ca.crt. */
export function writeServiceAccount(dir: string, ca: Buffer, token = TOKEN): string {
  const sa = path.join(dir, 'serviceaccount');
  execFileSync('mkdir', ['-p', sa]);
  writeFileSync(path.join(sa, 'token'), `${token}\n`);
  writeFileSync(path.join(sa, 'ca.crt'), ca);
  return sa;
}
