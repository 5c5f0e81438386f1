/**
 * @module gateway/readiness
 * What `/readyz` answers, in one function so that every reason a node is or is not ready is decided here.
 *
 * Ready means "this node serves what it served": once started and not draining, a node is ready even when a
 * topology failed to deploy. The failure is reported in the body (`failed`, and `waiting` for the ones with
 * nothing serving) and in the logs, not by taking the node out: behind a load balancer every node has the same
 * configuration, so one bad file would take the whole fleet out. `postern.health.ready.strict` restores the
 * strict form: 503 while any topology has no deployment serving.
 */

/** One topology as readiness sees it. */
export interface TopologyReadiness {
  name: string;
  /** A deployment of it serves (the last attempt's, or an earlier one when a redeploy failed). */
  serving: boolean;
  /** Its last deployment attempt failed. */
  failed: boolean;
}

/** A service that did not deploy inside a topology that did: it answers 503, the rest of its topology serves. */
export interface FailedService {
  topology: string;
  service: string;
  code: string;
}

export interface ReadinessInput {
  draining: boolean;
  strict: boolean;
  topologies: readonly TopologyReadiness[];
  failedServices?: readonly FailedService[];
}

export interface Readiness {
  ready: boolean;
  status: 'ready' | 'not ready' | 'draining';
  body: {
    status: Readiness['status'];
    /** Topologies serving. */
    topologies: number;
    /** Topologies whose last deployment failed (some may still serve their previous deployment). */
    failed?: string[];
    /** Topologies with nothing serving. */
    waiting?: string[];
    /** Services that did not deploy in topologies that serve (never a reason to be unready: the rest serves). */
    failedServices?: FailedService[];
    strict?: true;
  };
}

export function readiness({ draining, strict, topologies, failedServices = [] }: ReadinessInput): Readiness {
  const waiting = topologies.filter((t) => !t.serving).map((t) => t.name);
  const failed = topologies.filter((t) => t.failed).map((t) => t.name);
  const status = draining ? 'draining' : strict && waiting.length > 0 ? 'not ready' : 'ready';
  return {
    ready: status === 'ready',
    status,
    body: {
      status,
      topologies: topologies.length - waiting.length,
      ...(failed.length > 0 && { failed }),
      ...(waiting.length > 0 && { waiting }),
      ...(failedServices.length > 0 && { failedServices: [...failedServices] }),
      ...(strict && { strict: true as const }),
    },
  };
}
