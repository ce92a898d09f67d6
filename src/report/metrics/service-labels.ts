import type { ServiceRef } from '../../observe/objects';

/** namespace and service labels of a Service (port names are not labels: they would multiply series); '' for none. */
export function serviceLabels(s: ServiceRef | null | undefined): { namespace: string; service: string } {
  return s ? { namespace: s.namespace, service: s.name } : { namespace: '', service: '' };
}
