// Three nodes' flapwatch metrics during a cascade, for a real Prometheus to scrape (prometheus-cli.test.ts): db's
// accept queue overflows on node-b, api (on node-a and node-b) fails naming db, frontend (node-c) fails because
// api answers 503 and its payload says so; cache fails once in a while, too rarely to matter, and frontend's calls
// to cache retransmit a little: noise. Rates are per second.
import type { FixedSeries } from './metrics-server';

const edge = (client: string, kind: string, service: string, port: string) => ({
  client_namespace: 'shop', client_kind: kind, client_workload: client, namespace: 'shop', service, port,
});
const API_DB = edge('api', 'Deployment', 'db', 'pg');
const API_CACHE = edge('api', 'Deployment', 'cache', 'redis');
const FRONTEND_API = edge('frontend', 'Deployment', 'api', 'http');
const FRONTEND_CACHE = edge('frontend', 'Deployment', 'cache', 'redis');

const counter = (name: string, labels: Record<string, string>, perSecond: number): FixedSeries => ({ name, labels, perSecond });
const connects = (e: Record<string, string>, attempted: number, established: number, failed = 0) => [
  counter('flapwatch_edge_connections_total', { ...e, result: 'attempted' }, attempted),
  counter('flapwatch_edge_connections_total', { ...e, result: 'established' }, established),
  ...(failed ? [counter('flapwatch_edge_connections_total', { ...e, result: 'failed' }, failed)] : []),
];
/** cumulative per bucket, as the histogram exposes them */
const connectTimes = (e: Record<string, string>, buckets: [string, number][]) =>
  buckets.map(([le, n]) => counter('flapwatch_edge_connect_seconds_bucket', { ...e, le }, n));
const backs = (kind: string, workload: string, service: string): FixedSeries => ({
  name: 'flapwatch_workload_services', labels: { namespace: 'shop', kind, workload, service_namespace: 'shop', service }, value: 1,
});
const up: FixedSeries = { name: 'flapwatch_source_up', labels: { source: 'drops' }, value: 1 };
const failures = (service: string, source: string, verdict: string, perSecond: number) =>
  counter('flapwatch_health_failures_total', { namespace: 'shop', service, source, verdict }, perSecond);
const named = (service: string, dependency: string, verdict: string, perSecond: number) =>
  counter('flapwatch_failure_dependencies_total', { namespace: 'shop', service, dependency_namespace: 'shop', dependency, verdict }, perSecond);

export const SHOP_NODES: Record<string, FixedSeries[]> = {
  'node-a': [
    up, backs('Deployment', 'api', 'api'), backs('Deployment', 'cache', 'cache'),
    ...connects(API_DB, 1, 0.75, 0.25),
    counter('flapwatch_edge_retransmits_total', API_DB, 0.5),
    ...connectTimes(API_DB, [['0.001024', 0.5], ['0.004096', 0.5], ['1.048576', 0.5], ['4.194304', 0.75], ['+Inf', 0.75]]),
    ...connects(API_CACHE, 4, 4),
    ...connectTimes(API_CACHE, [['0.001024', 4], ['0.004096', 4], ['1.048576', 4], ['4.194304', 4], ['+Inf', 4]]),
    failures('api', 'kubelet', 'retransmits', 0.25),
    named('api', 'db', 'retransmits', 0.25),
    failures('cache', 'kubelet', 'none', 0.005),
  ],
  'node-b': [
    up, backs('Deployment', 'api', 'api'), backs('StatefulSet', 'db', 'db'),
    ...connects(API_DB, 2, 2),
    counter('flapwatch_edge_drops_total', { ...API_DB, mechanism: 'netfilter-drop' }, 0.5),
    ...connectTimes(API_DB, [['0.001024', 1.5], ['0.004096', 2], ['1.048576', 2], ['4.194304', 2], ['+Inf', 2]]),
    failures('db', 'kubelet', 'listen-overflow', 0.1),
    failures('api', 'active', 'retransmits', 0.25),
    named('api', 'db', 'retransmits', 0.25),
  ],
  'node-c': [
    up, backs('Deployment', 'frontend', 'frontend'),
    ...connects(FRONTEND_API, 2, 2),
    ...connectTimes(FRONTEND_API, [['0.001024', 2], ['0.004096', 2], ['1.048576', 2], ['4.194304', 2], ['+Inf', 2]]),
    ...connects(FRONTEND_CACHE, 1, 1),
    counter('flapwatch_edge_retransmits_total', FRONTEND_CACHE, 0.1),
    failures('frontend', 'kubelet', 'none', 0.25),
    named('frontend', 'api', 'none', 0.25),
  ],
};
