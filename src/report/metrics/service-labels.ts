import type { PodRef } from '../../observe/types';

/** namespace and service labels of a Service (port names are not labels: they would multiply series); '' for none. */
export function serviceLabels(s: PodRef | null | undefined): { namespace: string; service: string } {
  return s ? { namespace: s.namespace, service: s.name } : { namespace: '', service: '' };
}
