// An incident: one health-check failure, judged. What /incidents, /services/NS/NAME, `flapwatch explain` and
// the incident log line all show (report/ puts it in words).
import type { FailureKind, HealthSource, ProbePath } from '../observe/health';
import type { PodRef, ServiceRef } from '../observe/objects';
import type { Cascade } from './cascade';
import type { PathEvidence, Verdict } from './verdict';

export interface PathResults {
  ok: number;
  failed: number;
}

export interface Incident {
  id: number;
  /** ms since the epoch of the failure */
  at: number;
  /** the Service the check speaks for; null when none is known (a URL probe, a pod no Service selects) */
  service: ServiceRef | null;
  pod?: PodRef;
  container?: string;
  probe: string;
  /** every source that reported this failure (kubelet's metrics and its Event are one failure) */
  sources: HealthSource[];
  path?: ProbePath;
  /** where the check went, `ip:port` */
  target?: string;
  failure: { kind: FailureKind; status?: number; detail: string };
  window: { from: number; to: number };
  verdict: Verdict;
  /** the node whose evidence decided the verdict */
  node?: string;
  /** every node asked about its pods answered, for the whole window, and none saw the loss: the network between them */
  between?: boolean;
  /** the other nodes asked, and those that did not answer */
  peers?: { asked: string[]; unanswered: string[] };
  evidence: PathEvidence[];
  /** Services downstream that the evidence names */
  downstream: string[];
  /** the failing dependencies (`ns/name`) the failure names: its downstream evidence, its payload's names */
  dependencies?: string[];
  /** the failure names a failing dependency: where the chain of failures ends, as this node sees it */
  cascade?: Cascade;
  /** active probes of the same Service in the window, by path: the ClusterIP-vs-pod differential */
  probes?: Partial<Record<ProbePath, PathResults>>;
  retry?: { ok: boolean; detail: string };
  failedDependencies?: string[];
  payload?: unknown;
  /** the evidence ends before the window does: the kernel sources were behind or down */
  incomplete?: boolean;
}
