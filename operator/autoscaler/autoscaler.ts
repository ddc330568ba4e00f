// One autoscaler pass for one RayCluster, everything but Kubernetes: read Ray's state from the head's
// GCS, decide (scheduler.ts), report the decision back to Ray (so `ray status` shows it), drain the
// workers chosen for removal, and hand the operator what to do with pods: how many to create per type,
// which to delete. The operator's reconcile loop owns pods; it calls `step` every few seconds (5 in
// the original) and carries the result out.
//
// When the GCS cannot be reached, the pass changes nothing (no pod is created or deleted because of
// it: the original operator deleted every worker after 5 failed updates, never again) and says when
// to try again, with exponential backoff; the operator reports the condition.
import type {
  AutoscalingStateReport,
  ClusterResourceState,
  DrainNodeArgs,
  DrainNodeResult,
  GcsError,
} from "./gcs-client";
import { observedFromGcs } from "./gcs-input";
import { ClusterNode, decide, Decision, NodeTypeConfig, RemovalChoice, SchedulerInput } from "./scheduler";
import { formatClusterStatus, formatInfeasible } from "./status-block";

/** The three calls a pass makes (GcsAutoscalerClient has them; tests pass a fake). */
export interface GcsApi {
  getClusterResourceState(opts?: { lastSeenVersion?: number }): Promise<ClusterResourceState>;
  reportAutoscalingState(report: AutoscalingStateReport): Promise<void>;
  drainNode(args: DrainNodeArgs): Promise<DrainNodeResult>;
}

/** The RayCluster's scaling settings, with node type resources already resolved. */
export interface AutoscalingSpec {
  types: NodeTypeConfig[];
  headType: string;
  maxWorkers: number;
  upscalingSpeed: number;
  idleTimeoutMs: number;
}

/** A worker pod of the cluster as the operator's cache sees it (the head excluded). */
export interface WorkerPod {
  name: string;
  type: string;
  /** Being deleted already: neither capacity nor a pending launch. */
  terminating?: boolean;
  /** Creation time (ms since the epoch), for the report's request times. */
  createdMs?: number;
}

export interface StepOk {
  ok: true;
  decision: Decision;
  /** Pods to create, by type. */
  create: Record<string, number>;
  /** Worker pods to delete: Ray accepted to drain them. */
  delete: RemovalChoice[];
  /**
   * Worker pods an earlier pass (perhaps of an operator since restarted) chose and drained, which
   * Ray shows drained (DRAINING or DEAD, or no longer a node): they go too.
   */
  drainedBefore: string[];
  /** Removals Ray refused (the node got work meanwhile): kept. */
  drainRejected: { removal: RemovalChoice; reason: string }[];
  /** The "Cluster status" block for the log, one line each (prefix them with `<cluster>:`). */
  statusLines: string[];
  /** One line per infeasible demand, for status.autoscaler.infeasible. */
  infeasible: string[];
  /** The report could not be sent (the decision stands): the error text. */
  reportError?: string;
  /** The GCS state the decision was made from. */
  state: ClusterResourceState;
  input: SchedulerInput;
}

export interface StepFailed {
  ok: false;
  error: GcsError | Error;
  consecutiveFailures: number;
  /** When to try again. */
  retryInMs: number;
}

export type StepResult = StepOk | StepFailed;

export interface ClusterAutoscalerOptions {
  gcs: GcsApi;
  now?: () => number;
  /** Backoff after a failed pass: base × 2^(failures−1), capped (5 s, 5 min). */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
}

/** Per-cluster autoscaler state across passes: report versions, failure count. */
export class ClusterAutoscaler {
  private readonly gcs: GcsApi;
  private readonly now: () => number;
  private readonly backoffBaseMs: number;
  private readonly backoffMaxMs: number;
  private failures = 0;
  private lastReportVersion = 0;

  constructor(opts: ClusterAutoscalerOptions) {
    this.gcs = opts.gcs;
    this.now = opts.now ?? Date.now;
    this.backoffBaseMs = opts.backoffBaseMs ?? 5000;
    this.backoffMaxMs = opts.backoffMaxMs ?? 5 * 60_000;
  }

  get consecutiveFailures(): number {
    return this.failures;
  }

  /**
   * One pass. `drain.previous`: the workers earlier passes chose and were draining (kept in status);
   * `drain.persist` is awaited with the workers this pass will drain (those Ray drained already,
   * and the new choices) and the targets without them, BEFORE any DrainNode: if the operator dies
   * after Ray drains a node, the one that restarts knows exactly which pod goes, and replaces none.
   * When it fails, nothing is drained in this pass.
   */
  async step(
    spec: AutoscalingSpec,
    pods: WorkerPod[],
    drain: {
      previous?: string[];
      persist?: (draining: string[], targets: Record<string, number>) => Promise<void>;
    } = {},
  ): Promise<StepResult> {
    let state: ClusterResourceState;
    try {
      // Always 0, never the version last seen: a GCS that restarted (a new head, same Service) counts
      // from 0 again, and Ray's GCS aborts on a request whose last-seen version is above its own
      // (RAY_CHECK in HandleGetClusterResourceState) — which killed every replacement head.
      state = await this.gcs.getClusterResourceState({ lastSeenVersion: 0 });
    } catch (e) {
      this.failures++;
      const retryInMs = Math.min(this.backoffMaxMs, this.backoffBaseMs * 2 ** Math.min(this.failures - 1, 20));
      return { ok: false, error: e as Error, consecutiveFailures: this.failures, retryInMs };
    }
    this.failures = 0;

    const observed = observedFromGcs(state);
    const input = schedulerInput(spec, pods, observed.nodes, observed);
    const decision = decide(input);

    // Earlier drains: done once Ray no longer runs the node as a schedulable one.
    const rayStatus = new Map(state.nodes.map((n) => [n.instanceId, n.status]));
    const drainedBefore = (drain.previous ?? []).filter((name) => {
      const status = rayStatus.get(name);
      return status === undefined || status === "DEAD" || status === "DRAINING";
    });
    const choices = decision.remove.filter((r) => observed.nodeIds[r.instanceId]);
    if (choices.length && drain.persist) {
      try {
        const draining = [...new Set([...drainedBefore, ...choices.map((r) => r.instanceId)])];
        await drain.persist(draining, decision.targetWorkers);
      } catch (e) {
        const reason = `could not record the drain before asking Ray: ${(e as Error).message}`;
        const kept = choices.map((removal) => ({ removal, reason }));
        return this.outcome(state, input, decision, pods, [], drainedBefore, kept);
      }
    }

    // Drain before deleting: Ray refuses if the node took work since we looked, and the pod stays.
    const del: RemovalChoice[] = [];
    const drainRejected: StepOk["drainRejected"] = [];
    for (const r of choices) {
      const nodeId = observed.nodeIds[r.instanceId];
      if (!nodeId) continue;
      try {
        const res = await this.gcs.drainNode({
          nodeId,
          reason: "IDLE_TERMINATION",
          message:
            r.reason === "idle" ? `idle for ${Math.floor(r.idleMs / 1000)} s (idleTimeoutMinutes)` : "over maxWorkers",
        });
        if (res.accepted) del.push(r);
        else drainRejected.push({ removal: r, reason: res.rejectionReason });
      } catch (e) {
        drainRejected.push({ removal: r, reason: (e as Error).message });
      }
    }

    return this.outcome(state, input, decision, pods, del, drainedBefore, drainRejected);
  }

  /** Reports the decision to Ray (so `ray status` shows it) and puts the pass's result together. */
  private async outcome(
    state: ClusterResourceState,
    input: SchedulerInput,
    decision: Decision,
    pods: WorkerPod[],
    del: RemovalChoice[],
    drainedBefore: string[],
    drainRejected: StepOk["drainRejected"],
  ): Promise<StepOk> {
    let reportError: string | undefined;
    try {
      // Strictly increasing across passes and across operator restarts (the GCS keeps the newest).
      this.lastReportVersion = Math.max(this.lastReportVersion + 1, this.now());
      await this.gcs.reportAutoscalingState(
        autoscalingReport(state, decision, input, pods, this.lastReportVersion, this.now()),
      );
    } catch (e) {
      reportError = (e as Error).message;
    }

    return {
      ok: true,
      decision,
      create: decision.launch,
      delete: del,
      drainedBefore,
      drainRejected,
      statusLines: formatClusterStatus(input, decision),
      infeasible: formatInfeasible(decision),
      reportError,
      state,
      input,
    };
  }
}

/**
 * The scheduler's input from the spec, the worker pods and what Ray reports. Pods that exist but are
 * not (yet) live nodes in Ray are pending launches; Ray nodes whose pod is gone (deleted, the node
 * not yet dead in Ray) are left out, so they are neither capacity nor candidates for removal.
 */
export function schedulerInput(
  spec: AutoscalingSpec,
  pods: WorkerPod[],
  rayNodes: ClusterNode[],
  demand: Pick<SchedulerInput, "demands" | "gangs" | "constraints">,
): SchedulerInput {
  const livePods = pods.filter((p) => !p.terminating);
  const podNames = new Set(livePods.map((p) => p.name));
  const inRay = new Set<string>();
  const nodes = rayNodes.filter((n) => {
    if (n.isHead) return true;
    if (!podNames.has(n.instanceId)) return false;
    if (n.status !== "DEAD") inRay.add(n.instanceId);
    return true;
  });
  const pendingLaunches: Record<string, number> = {};
  for (const p of livePods) if (!inRay.has(p.name)) pendingLaunches[p.type] = (pendingLaunches[p.type] ?? 0) + 1;
  return {
    ...spec,
    nodes,
    pendingLaunches,
    demands: demand.demands,
    gangs: demand.gangs,
    constraints: demand.constraints,
  };
}

/** The decision as Ray's AutoscalingState: what `ray status` shows as pending, failed, infeasible. */
export function autoscalingReport(
  state: ClusterResourceState,
  decision: Decision,
  input: SchedulerInput,
  pods: WorkerPod[],
  version: number,
  nowMs: number,
): AutoscalingStateReport {
  const inRay = new Set(input.nodes.filter((n) => n.status !== "DEAD").map((n) => n.instanceId));
  return {
    lastSeenClusterResourceStateVersion: state.version,
    autoscalerStateVersion: version,
    pendingInstanceRequests: Object.entries(decision.launch).map(([type, count]) => ({
      rayNodeTypeName: type,
      count,
      requestTsMs: nowMs,
    })),
    pendingInstances: pods
      .filter((p) => !p.terminating && !inRay.has(p.name))
      .map((p) => ({ rayNodeTypeName: p.type, instanceId: p.name, details: "pod created, Ray not started yet" })),
    infeasibleResourceRequests: decision.infeasible.map((d) => d.resources),
    infeasibleGangResourceRequests: decision.infeasibleGangs.map((g) => ({ bundles: g.bundles, details: g.strategy })),
    infeasibleClusterResourceConstraints:
      decision.infeasibleConstraints.length > 0 ? [decision.infeasibleConstraints] : [],
  };
}
