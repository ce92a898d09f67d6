// deploy/'s manifests, read as kustomize reads them, and validated against the Kubernetes schemas
// (kubernetes-models' compiled OpenAPI validators). Those schemas accept unknown fields, which a real API
// server refuses (kubectl's default field validation is Strict): the validator's own property reads tell
// which fields it knows, so a field it never looked at is reported as unknown.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as apps from 'kubernetes-models/apps/v1';
import * as rbac from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import * as core from 'kubernetes-models/v1';
import * as monitoring from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { parseAllDocuments } from 'yaml';

export const ROOT = path.resolve(__dirname, '..', '..', '..'); // dist/test/deploy → the repository
export const DEPLOY = path.join(ROOT, 'deploy');

export type Manifest = Record<string, unknown> & { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } };

/** Every document of a YAML file; a YAML error throws, naming the file. */
export function readYamlDocs(file: string): unknown[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).map((d) => {
    if (d.errors.length) throw new Error(`${file}: ${d.errors[0]!.message}`);
    return d.toJS();
  }).filter((d) => d !== null);
}

/** The opt-in kustomize Components. */
export const PROMETHEUS_OPERATOR = path.join(DEPLOY, 'components', 'prometheus-operator');
export const KUBE_RBAC_PROXY = path.join(DEPLOY, 'components', 'kube-rbac-proxy');

export interface Kustomization {
  kind: 'Kustomization' | 'Component';
  namespace?: string;
  resources: string[];
  images?: { name: string; newTag?: string; newName?: string }[];
}

/** deploy/'s kustomization, or a component's. */
export function kustomization(dir = DEPLOY): Kustomization {
  return readYamlDocs(path.join(dir, 'kustomization.yaml'))[0] as Kustomization;
}

/** The manifests a kustomization (or component) lists, as written (before kustomize sets namespaces and images). */
export function resources(dir = DEPLOY): Manifest[] {
  return kustomization(dir).resources.flatMap((f) => readYamlDocs(path.join(dir, f)) as Manifest[]);
}

type Validatable = { prototype: { validate(this: unknown): void } };
const GROUPS: Record<string, Record<string, unknown>> = {
  v1: core,
  'apps/v1': apps,
  'rbac.authorization.k8s.io/v1': rbac,
  'monitoring.coreos.com/v1': monitoring,
};

function modelFor(m: Manifest): Validatable {
  const model = GROUPS[m.apiVersion]?.[m.kind] as Validatable | undefined;
  if (!model?.prototype?.validate) throw new Error(`no schema for ${m.apiVersion} ${m.kind}`);
  return model;
}

interface Seen { path: string; keys: string[]; read: Set<string>; enumerated: boolean }

/** A deep copy whose objects record which of their keys the validator read, or whether it walked them all. */
function watched(value: unknown, at: string, seen: Seen[]): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v, i) => watched(v, `${at}/${i}`, seen));
  const rec: Seen = { path: at, keys: Object.keys(value), read: new Set(), enumerated: false };
  seen.push(rec);
  const copy = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, watched(v, `${at}/${k}`, seen)]));
  return new Proxy(copy, {
    get(target, key) {
      if (typeof key === 'string') rec.read.add(key);
      return Reflect.get(target, key);
    },
    ownKeys(target) {
      rec.enumerated = true; // a map (labels, annotations, limits): every key is checked against one schema
      return Reflect.ownKeys(target);
    },
  });
}

/** Schema errors and unknown fields of one manifest; [] when the API server would take it. */
export function validate(m: Manifest): string[] {
  const seen: Seen[] = [];
  const where = `${m.kind}/${m.metadata?.name}`;
  try {
    modelFor(m).prototype.validate.call(watched(m, '', seen));
  } catch (err) {
    return [`${where}: ${err instanceof Error ? err.message : String(err)}`];
  }
  return seen
    .filter((s) => !s.enumerated)
    .flatMap((s) => s.keys.filter((k) => !s.read.has(k)).map((k) => `${where}: unknown field ${s.path}/${k}`));
}

/** The only document of a kind (and name). */
export function find(ms: readonly Manifest[], kind: string, name?: string): Manifest {
  const hits = ms.filter((m) => m.kind === kind && (name === undefined || m.metadata.name === name));
  if (hits.length !== 1) throw new Error(`expected one ${kind}${name ? `/${name}` : ''}, found ${hits.length}`);
  return hits[0]!;
}
