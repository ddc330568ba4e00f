// The status of a RayCluster, computed fresh on every pass from what is observed (never carried
// over, so a Ready that no longer holds goes away — KubeRay #2188), in the kstatus convention:
// Ready / Reconciling / Stalled conditions with observedGeneration, so `kubectl wait` works.
import { Condition, Phase, PodTypeStatus, RayClusterStatus } from "../../api/v1/types";
import type { DefaultedRayCluster } from "../../api/v1/defaults";
import { FieldError } from "../../api/v1/validate";
import { canonicalJson } from "../../builders/hash";
import { headServiceName } from "../../builders/names";
import type { Service } from "../../api/v1/kube-types";
import { Plan } from "./plan";
import { Pod, isReady, isRunning, isTerminating, isFinished, nodeKind, podType } from "./pods";

export interface StatusInputs {
  rc: DefaultedRayCluster;
  pods: Pod[];
  service?: Service;
  plan?: Plan;
  /** The spec cannot work: the fields and why. */
  invalid?: FieldError[];
  /** Creating pods failed in a way retrying will not fix (forbidden, invalid). */
  createError?: string;
  /** The autoscaler's view, when it runs. */
  autoscaler?: RayClusterStatus["autoscaler"];
  autoscalerUnreachable?: string;
  /** Workers the autoscaler is draining (see AutoscalerStatus.draining); those still present are kept listed. */
  draining?: string[];
  now?: Date;
}

function condition(
  type: string,
  ok: boolean,
  reason: string,
  message: string,
  generation: number | undefined,
  prev: Condition[] | undefined,
  now: string,
): Condition {
  const status = ok ? "True" : "False";
  const before = prev?.find((c) => c.type === type);
  return {
    type,
    status,
    reason,
    message,
    observedGeneration: generation,
    lastTransitionTime: before && before.status === status ? before.lastTransitionTime : now,
  };
}

export function computeStatus(inputs: StatusInputs): RayClusterStatus {
  const { rc, plan } = inputs;
  const now = (inputs.now ?? new Date()).toISOString().replace(/\.\d{3}Z$/, "Z");
  const generation = rc.metadata.generation;
  const prev = rc.status?.conditions;
  const live = inputs.pods.filter((p) => !isTerminating(p) && !isFinished(p));
  const head = plan?.head;

  const status: RayClusterStatus = {
    observedGeneration: generation,
    headRestarts: (rc.status?.headRestarts ?? 0) + (plan?.restart && rc.status?.head?.podName ? 1 : 0),
    head: {
      ...(head ? { podName: head.metadata.name, ...(head.status?.podIP ? { podIP: head.status.podIP } : {}) } : {}),
      serviceName: headServiceName(rc.metadata.name!),
      ...(inputs.service?.spec?.clusterIP ? { serviceIP: inputs.service.spec.clusterIP } : {}),
    },
  };
  if (inputs.autoscaler) status.autoscaler = inputs.autoscaler;
  else if (rc.status?.autoscaler) status.autoscaler = rc.status.autoscaler;
  // A drain is listed until its pod is gone (being deleted counts as gone: nothing is left to decide).
  const present = new Set(inputs.pods.filter((p) => !isTerminating(p)).map((p) => p.metadata.name));
  const draining = (inputs.draining ?? rc.status?.autoscaler?.draining ?? []).filter((name) => present.has(name));
  if (status.autoscaler || draining.length) {
    const { draining: _previous, ...rest } = status.autoscaler ?? {};
    status.autoscaler = draining.length ? { ...rest, draining: [...draining].sort() } : rest;
  }

  if (inputs.invalid?.length) {
    const message = inputs.invalid.map((e) => `${e.field}: ${e.message}`).join("; ");
    status.phase = "Error";
    status.podTypes = rc.status?.podTypes;
    status.workers = rc.status?.workers;
    status.conditions = [
      condition("Ready", false, "InvalidSpec", message, generation, prev, now),
      condition("Reconciling", false, "InvalidSpec", "waiting for the RayCluster to be fixed", generation, prev, now),
      condition("Stalled", true, "InvalidSpec", message, generation, prev, now),
    ];
    return status;
  }

  const spec = rc.spec;
  const podTypes: PodTypeStatus[] = [];
  let wDesired = 0;
  let wCurrent = 0;
  let wReady = 0;
  const notReady: string[] = [];
  for (const t of spec.podTypes) {
    const isHeadType = t.name === spec.headPodType;
    const ofType = live.filter((p) => podType(p) === t.name);
    const workers = ofType.filter((p) => nodeKind(p) === "worker");
    const desiredWorkers = plan!.desired[t.name] ?? 0;
    const upToDate = plan!.current[t.name] ?? [];
    const readyWorkers = upToDate.filter(isReady).length;
    const entry: PodTypeStatus = {
      name: t.name,
      desired: desiredWorkers + (isHeadType ? 1 : 0),
      current: ofType.length,
      running: ofType.filter(isRunning).length,
      ready: ofType.filter(isReady).length,
      outdated: ofType.length - upToDate.length - (isHeadType && head ? 1 : 0),
    };
    if (isHeadType || desiredWorkers > 0 || ofType.length > 0) podTypes.push(entry);
    wDesired += desiredWorkers;
    wCurrent += workers.length;
    wReady += readyWorkers;
    if (readyWorkers < desiredWorkers) notReady.push(`${readyWorkers}/${desiredWorkers} ${t.name} workers ready`);
  }
  status.podTypes = podTypes;
  status.workers = { desired: wDesired, current: wCurrent, ready: wReady };

  const headReady = !!head && isReady(head);
  const busy = plan!.deletions.length > 0 || plan!.creations.length > 0;
  let phase: Phase;
  let reason: string;
  let message: string;
  if (inputs.createError) {
    phase = "Error";
    reason = "PodCreationFailed";
    message = inputs.createError;
  } else if (plan!.restart || (!head && rc.status?.head?.podName)) {
    phase = "Restarting";
    reason = "HeadReplaced";
    message = `the head pod was ${plan!.restart === "HeadOutdated" ? "outdated" : "lost"}; restarting the cluster`;
  } else if (plan!.outdated > 0) {
    phase = "Updating";
    reason = "PodsOutdated";
    message = `${plan!.outdated} pods built from an outdated launch config are being replaced`;
  } else if (!headReady) {
    phase = "Pending";
    reason = "HeadNotReady";
    message = head ? `head pod ${head.metadata.name} is not ready` : "creating the head pod";
  } else if (notReady.length || busy) {
    phase = "Pending";
    reason = "WorkersNotReady";
    message = notReady.join(", ") || "scaling workers";
  } else {
    phase = "Running";
    reason = "AllPodsReady";
    message = `head and ${wReady} workers ready`;
  }
  if (phase === "Running" && inputs.autoscalerUnreachable) phase = "AutoscalingExceptionRecovery";
  status.phase = phase;
  const ready = reason === "AllPodsReady";
  const stalled = !!inputs.createError;
  status.conditions = [
    condition("Ready", ready, reason, message, generation, prev, now),
    condition(
      "Reconciling",
      !ready && !stalled,
      ready ? "AllPodsReady" : reason,
      ready ? "" : message,
      generation,
      prev,
      now,
    ),
    condition("Stalled", stalled, stalled ? reason : "AsExpected", stalled ? message : "", generation, prev, now),
  ];
  if (inputs.autoscalerUnreachable !== undefined || prev?.some((c) => c.type === "AutoscalerReachable")) {
    const ok = !inputs.autoscalerUnreachable;
    status.conditions.push(
      condition(
        "AutoscalerReachable",
        ok,
        ok ? "Connected" : "ControlStoreUnreachable",
        inputs.autoscalerUnreachable ?? "",
        generation,
        prev,
        now,
      ),
    );
  }
  return status;
}

/** Status equality, ignoring nothing: the status is written only when this says it changed. */
export const sameStatus = (a: RayClusterStatus | undefined, b: RayClusterStatus | undefined) =>
  canonicalJson(a ?? {}) === canonicalJson(b ?? {});

/**
 * Whether two statuses differ in more than progress counts (per-type and total pod counts, and the
 * condition messages that quote them): phase, condition states and reasons, generation, head,
 * restarts and the autoscaler's decision are what a reader waits for.
 */
export function significantChange(a: RayClusterStatus | undefined, b: RayClusterStatus): boolean {
  const essence = (s: RayClusterStatus | undefined) =>
    canonicalJson({
      ...(s ?? {}),
      podTypes: undefined,
      workers: undefined,
      conditions: (s?.conditions ?? []).map((c) => [c.type, c.status, c.reason, c.observedGeneration]),
    });
  return essence(a) !== essence(b);
}
