// The root of a cascade, as one node sees it. A failure that names a dependency (its evidence lies downstream, or
// its payload says the dependency failed) is part of a cascade; the dependency's own recent failures say whether it
// too only suffered from another one. The root is where the chain ends: the failing Service whose failures name no
// further failing dependency. Cluster-wide, `flapwatch rca` asks Prometheus, which holds every node's figures.
import { parseObjectKey, type EndpointView, type ServiceRef } from '../observe/objects';
import type { ServiceIndex } from '../services/index';
import type { Incident } from './incident';

export interface Cascade {
  /** `ns/name` of the Service where the chain of failures ends */
  root: string;
  /** the failing Services from this failure's Service to the root, the root last */
  chain: string[];
}

/** The Services a failure names as failing dependencies: its downstream evidence, and its payload's names that are Services. */
export function dependenciesOf(i: Pick<Incident, 'downstream' | 'failedDependencies' | 'service'>, index: ServiceIndex): string[] {
  const named = new Set(i.downstream);
  for (const dep of i.failedDependencies ?? []) {
    // a payload names a dependency its own way: `db`, `shop/db`, `db.shop`, `postgres.db`; a Service's name is the best guess
    const [first, second] = dep.split(/[./]/);
    for (const [namespace, name] of [[i.service?.namespace, first], [first, second], [second, first]]) {
      if (namespace && name && index.byName(namespace, name).length) named.add(`${namespace}/${name}`);
    }
  }
  return [...named];
}

/** The endpoints of the Services a failure's payload names as failing: where its dependencies' pods are. */
export function dependencyEndpoints(failure: { failedDependencies?: string[]; service?: ServiceRef | null }, index: ServiceIndex): EndpointView[] {
  const deps = dependenciesOf({ downstream: [], failedDependencies: failure.failedDependencies ?? [], service: failure.service ?? null }, index);
  return deps.flatMap((dep) => {
    const { namespace, name } = parseObjectKey(dep);
    return index.byName(namespace, name).flatMap((port) => port.endpoints);
  });
}

/**
 * Follows the failures: from `start`'s dependencies, through the recent incidents of each dependency that name
 * their own, until a Service whose failures name none (or none recent). `recent` newest last.
 */
export function cascadeOf(start: Incident, deps: string[], recent: readonly Incident[], depsOf: (i: Incident) => string[], horizonMs: number): Cascade | undefined {
  if (!deps.length) return undefined;
  const own = start.service ? `${start.service.namespace}/${start.service.name}` : '';
  const chain = own ? [own] : [];
  let next = deps[0]!;
  while (!chain.includes(next)) {
    chain.push(next);
    const failing = [...recent].reverse().find((i) => i.service && `${i.service.namespace}/${i.service.name}` === next && Math.abs(i.at - start.at) <= horizonMs && depsOf(i).length);
    const further = failing ? depsOf(failing).find((d) => !chain.includes(d)) : undefined;
    if (!further) break;
    next = further;
  }
  return { root: chain[chain.length - 1]!, chain };
}
