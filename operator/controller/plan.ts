// What to do for one RayCluster, as a pure function of the RayCluster, the pods and Service it owns
// (as the cache sees them) and the autoscaler's intent. The reconciler executes the plan; tests
// exercise it directly.
//
// The rules of the contract (section 2):
// - one head; a head that failed or was deleted is replaced, and since workers cannot join a new
//   head, every worker started against the old head is replaced too (a cluster restart);
// - a pod built from an outdated launch config is replaced (head: the whole cluster restarts);
// - workers per type between minWorkers and maxWorkers, never above the global maxWorkers;
// - scaling changes restart nothing: the launch hash ignores them;
// - an operator restart changes nothing: the desired counts are read back from status (live workers
//   above them are kept), and workers are only ever removed for a reason written above or by the
//   autoscaler's decision.
import { RayCluster } from "../../api/v1/types";
import { DefaultedRayCluster, headServicePorts, headType, workerTypes } from "../../api/v1/defaults";
import type { Service, ServicePort } from "../../api/v1/kube-types";
import { HEAD_NAME_ANNOTATION } from "../../builders/names";
import { launchConfigHash } from "../../builders/launch-hash";
import { buildHeadService, HeadService } from "../../builders/service";
import {
  Pod,
  awaitingScheduler,
  created,
  isFinished,
  isReady,
  isRunning,
  isTerminating,
  launchHashOf,
  nodeKind,
  podType,
} from "./pods";

export type DeleteReason =
  | "HeadFailed"
  | "HeadOutdated"
  | "DuplicateHead"
  | "WorkerFailed"
  | "Outdated"
  | "HeadReplaced"
  | "HeadNotCreated"
  | "TypeRemoved"
  | "ScaleDown"
  | "Idle";

export interface PodDeletion {
  pod: Pod;
  reason: DeleteReason;
}

export interface PodCreation {
  kind: "head" | "worker";
  type: string;
  count: number;
}

/** Why the autoscaler wants a change; consumed by the next reconcile. */
export interface ScaleIntent {
  /** Worker count per type the autoscaler asks for (clamped to the type's min/max here). */
  targets?: Record<string, number>;
  /** Worker pods Ray has drained (it accepted the autoscaler's DrainNode): they go now. */
  drained?: string[];
}

/** How fast a plan may grow a cluster; not part of the contract, a courtesy to the rest of the cluster. */
/** How long after its deletion deadline a pod still terminating no longer holds a new head back. */
const STUCK_TERMINATING_MS = 60_000;

export interface PlanLimits {
  /**
   * At most this many of the cluster's workers waiting for the scheduler's first look (0: no limit).
   * kube-scheduler serves pods of equal priority first come, first served: a 500-worker scale-up
   * created at once puts every other cluster's pods behind all 500. Pods the scheduler has looked
   * at (bound, or found unschedulable and left for a cluster autoscaler) no longer count, so this
   * paces a scale-up at the scheduler's speed and never stalls it on capacity or image pulls.
   */
  maxUnscheduledWorkers?: number;
  /** The time the plan is made at (ms since the epoch; default now): pods stuck terminating. */
  nowMs?: number;
  /**
   * Ray's autoscaler decides which workers go (it runs for this operator). Then a worker that is a
   * Ray node (or may be one: its container runs) is removed only once Ray has drained it; surplus
   * workers whose containers have not started (Pending) may still go at once. Without it
   * (AUTOSCALER_INTERVAL_SECONDS=0) surplus workers go newest first.
   */
  autoscaling?: boolean;
}

export interface Plan {
  head?: Pod;
  /** The head was lost or replaced: the cluster restarts. */
  restart?: "HeadLost" | "HeadFailed" | "HeadOutdated";
  service?: { create: HeadService } | { patch: { spec: { ports: ServicePort[] } } };
  deletions: PodDeletion[];
  creations: PodCreation[];
  /** Desired workers per worker type after this pass (persisted in status). */
  desired: Record<string, number>;
  /** Live, up-to-date workers per type (before this plan's actions). */
  current: Record<string, Pod[]>;
  /** Pods that will be replaced because they are outdated. */
  outdated: number;
  /** Workers wanted but not created in this pass: the scheduler has enough of ours to look at. */
  deferred: number;
}

/** Previous desired worker counts, from status: this is what makes an operator restart a no-op. */
export function previousDesired(rc: RayCluster): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of rc.status?.podTypes ?? [])
    if (t.name !== rc.spec.headPodType || (t.desired ?? 0) > 1)
      out[t.name] = t.name === rc.spec.headPodType ? t.desired - 1 : t.desired;
  return out;
}

/** Order in which surplus workers go: not ready first, then pending, then the newest. */
function removalOrder(a: Pod, b: Pod): number {
  const rank = (p: Pod) => (isReady(p) ? 2 : isRunning(p) ? 1 : 0);
  return rank(a) - rank(b) || created(b) - created(a);
}

export function planCluster(
  rc: DefaultedRayCluster,
  pods: Pod[],
  service: Service | undefined,
  intent: ScaleIntent = {},
  limits: PlanLimits = {},
): Plan {
  const spec = rc.spec;
  const plan: Plan = { deletions: [], creations: [], desired: {}, current: {}, outdated: 0, deferred: 0 };
  const del = (pod: Pod, reason: DeleteReason) => plan.deletions.push({ pod, reason });

  // The head Service.
  const wantService = buildHeadService(rc);
  if (!service) plan.service = { create: wantService };
  else {
    const have = (service.spec?.ports ?? [])
      .map((p) => `${p.name}:${p.port}:${p.targetPort}`)
      .sort()
      .join(",");
    const want = headServicePorts(spec)
      .map((p) => `${p.name}:${p.port}:${p.targetPort ?? p.port}`)
      .sort()
      .join(",");
    if (have !== want) plan.service = { patch: { spec: { ports: wantService.spec.ports } } };
  }

  const live = pods.filter((p) => !isTerminating(p));
  const headHash = launchConfigHash(rc, headType(spec), "head");
  const heads = live.filter((p) => nodeKind(p) === "head").sort((a, b) => created(a) - created(b));
  let head: Pod | undefined;
  for (const candidate of heads) {
    if (isFinished(candidate)) {
      del(candidate, "HeadFailed");
      plan.restart = "HeadFailed";
    } else if (launchHashOf(candidate) !== headHash) {
      del(candidate, "HeadOutdated");
      plan.restart ??= "HeadOutdated";
      plan.outdated++;
    } else if (!head) head = candidate;
    else del(candidate, "DuplicateHead");
  }
  const headTerminating = pods.some((p) => isTerminating(p) && nodeKind(p) === "head");
  // The head we knew is gone (deleted, evicted, or on its way out): the cluster restarts.
  if (!head && !plan.restart && rc.status?.head?.podName) plan.restart = "HeadLost";
  plan.head = head;
  // A new head also waits until the old cluster's workers are gone: their raylets, still running
  // while they stop, would reach the new head's GCS through the same Service as nodes of a cluster
  // that no longer exists (Ray refuses them, "Wrong cluster ID token", and they retry until they
  // stop). A new Ray cluster starts alone. A pod stuck terminating (its node lost) holds nothing
  // back for longer than its grace period and a minute.
  const nowMs = limits.nowMs ?? Date.now();
  const leaving = (p: Pod) =>
    !isTerminating(p) || Date.parse(p.metadata.deletionTimestamp ?? "") + STUCK_TERMINATING_MS > nowMs;
  const oldWorkersLeft = !head && pods.some((p) => nodeKind(p) === "worker" && leaving(p));
  const newHead = !head && !headTerminating && !oldWorkersLeft;
  if (newHead) plan.creations.push({ kind: "head", type: spec.headPodType, count: 1 });

  const types = workerTypes(spec);
  const prev = previousDesired(rc);
  // Workers the autoscaler chose to remove and has drained, or is draining (kept in status across an
  // operator restart): a finished one goes without a replacement; a live one goes once Ray drained it.
  const drained = new Set(intent.drained ?? []);
  const draining = new Set([...(rc.status?.autoscaler?.draining ?? []), ...drained]);
  for (const workerType of types) plan.current[workerType.name] = [];
  const hashes = new Map(types.map((workerType) => [workerType.name, launchConfigHash(rc, workerType, "worker")]));
  // Workers the scheduler has not looked at yet, replaced ones included (they count until gone).
  let awaiting = 0;
  for (const worker of live.filter((p) => nodeKind(p) === "worker")) {
    if (awaitingScheduler(worker)) awaiting++;
    const typeName = podType(worker) ?? "";
    if (!hashes.has(typeName)) del(worker, "TypeRemoved");
    else if (!head || worker.metadata.annotations?.[HEAD_NAME_ANNOTATION] !== head.metadata.name)
      del(worker, "HeadReplaced");
    else if (isFinished(worker)) del(worker, draining.has(worker.metadata.name) ? "Idle" : "WorkerFailed");
    else if (launchHashOf(worker) !== hashes.get(typeName)) {
      del(worker, "Outdated");
      plan.outdated++;
    } else plan.current[typeName].push(worker);
  }

  // Desired counts: the autoscaler's target, else what status remembers (else minWorkers) or the
  // live workers if more (a pass that created them may have stopped before writing status: those
  // are kept, not scaled down); clamped.
  let total = 0;
  for (const workerType of types) {
    const staying = plan.current[workerType.name].filter((p) => !draining.has(p.metadata.name)).length;
    const want = intent.targets?.[workerType.name] ?? Math.max(prev[workerType.name] ?? workerType.minWorkers, staying);
    plan.desired[workerType.name] = Math.max(workerType.minWorkers, Math.min(workerType.maxWorkers, want));
    total += plan.desired[workerType.name];
  }
  // The global cap: take the excess from the last types first, never below a type's minimum.
  for (const workerType of [...types].reverse()) {
    if (total <= spec.maxWorkers) break;
    const cut = Math.min(total - spec.maxWorkers, plan.desired[workerType.name] - workerType.minWorkers);
    plan.desired[workerType.name] -= cut;
    total -= cut;
  }

  // Room the scheduler window leaves for new workers.
  let room = limits.maxUnscheduledWorkers ? Math.max(0, limits.maxUnscheduledWorkers - awaiting) : Infinity;
  for (const workerType of types) {
    const have = plan.current[workerType.name];
    const desired = plan.desired[workerType.name];
    let surplus = have.length - desired;
    // Workers Ray drained go first, but only down to the desired count.
    for (const worker of have.filter((p) => drained.has(p.metadata.name))) {
      if (surplus <= 0) break;
      del(worker, "Idle");
      surplus--;
    }
    // Sorted only when something goes: a pass runs on every scheduling of a big scale-up's pods.
    if (surplus > 0) {
      const deleting = new Set(plan.deletions.map((d) => d.pod.metadata.name));
      // With the autoscaler on, a Ray node that Ray has not drained stays (it may be running work):
      // the autoscaler drains it once it is idle, and the next pass removes it.
      // A container that has started may run a raylet before its readiness probe says so (up to a
      // probe period later): only a pod whose containers have not started is surely no Ray node.
      const mayBeRayNode = (p: Pod) => limits.autoscaling && p.status?.phase === "Running";
      const mayGo = (p: Pod) => !deleting.has(p.metadata.name) && !mayBeRayNode(p);
      for (const worker of have.filter(mayGo).sort(removalOrder)) {
        if (surplus <= 0) break;
        del(worker, "ScaleDown");
        surplus--;
      }
    }
    // Workers join the head that exists, or the one created in the same pass; while an old head is
    // still terminating, nothing is created.
    if ((head || newHead) && have.length < desired) {
      const count = Math.min(desired - have.length, room);
      plan.deferred += desired - have.length - count;
      room -= count;
      if (count > 0) plan.creations.push({ kind: "worker", type: workerType.name, count });
    }
  }
  return plan;
}
