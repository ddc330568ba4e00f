// Reading pods the way the reconciler needs: which cluster owns them, what they are, how they are.
import { LABELS, NodeKind, RayCluster } from "../../api/v1/types";
import type * as kube from "../../api/v1/kube-types";
import type { KubeObject, Stored } from "../kube/informer";

/** A pod as the cache holds it. */
export type Pod = Stored<kube.Pod>;
/** A Service as the cache holds it. */
export type Service = Stored<kube.Service>;

export const podKey = (p: Pod) => `${p.metadata.namespace}/${p.metadata.name}`;
export const isTerminating = (p: Pod) => !!p.metadata.deletionTimestamp;
export const isFinished = (p: Pod) => p.status?.phase === "Failed" || p.status?.phase === "Succeeded";
export const isRunning = (p: Pod) => p.status?.phase === "Running";
export const isReady = (p: Pod) =>
  isRunning(p) && !!p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");
/** Not yet looked at by the scheduler: neither bound nor given a PodScheduled condition (unschedulable, gated). */
export const awaitingScheduler = (p: Pod) =>
  !p.spec?.nodeName && !p.status?.conditions?.some((c) => c.type === "PodScheduled");
export const nodeKind = (p: Pod): NodeKind | undefined => p.metadata.labels?.[LABELS.nodeType] as NodeKind | undefined;
export const podType = (p: Pod) => p.metadata.labels?.[LABELS.userNodeType];
export const launchHashOf = (p: Pod) => p.metadata.labels?.[LABELS.launchConfig];
export const created = (p: Pod) => Date.parse(p.metadata.creationTimestamp ?? "") || 0;

/**
 * Why a finished pod ended, from its status: the pod's reason (Evicted, ...) and each container that
 * failed, with its exit code and the last lines of its termination message (with the Ray container's
 * FallbackToLogsOnError, the end of its log). Empty when the status says nothing.
 */
export function endOf(p: Pod): string {
  const parts: string[] = [];
  if (p.status?.reason) parts.push(`${p.status.reason}${p.status.message ? `: ${p.status.message}` : ""}`);
  for (const c of p.status?.containerStatuses ?? []) {
    const ended = c.state?.terminated ?? c.lastState?.terminated;
    if (!ended || ended.exitCode === 0) continue;
    // The launcher's own line comes last; Ray's lines before it usually say why (a few suffice).
    const last = (ended.message ?? "")
      .trim()
      .split("\n")
      .filter((line) => line.trim())
      .slice(-6)
      .join(" | ")
      .slice(-800);
    parts.push(`container ${c.name} exited ${ended.exitCode} (${ended.reason ?? "Error"})${last ? `: ${last}` : ""}`);
  }
  return parts.join("; ");
}

/** The RayCluster that controls an object, as `namespace/name`, from its controller reference. */
export function controllerKey(o: KubeObject): string | undefined {
  const ref = (o.metadata.ownerReferences ?? []).find(
    (r) => r.controller && r.kind === "RayCluster" && String(r.apiVersion).startsWith("cluster.ray.io/"),
  );
  return ref ? `${o.metadata.namespace}/${ref.name}` : undefined;
}

/** Owned by this incarnation of the RayCluster (same name and UID). */
export function ownedBy(o: KubeObject, rc: RayCluster): boolean {
  return (o.metadata.ownerReferences ?? []).some(
    (r) => r.controller && r.kind === "RayCluster" && r.uid === rc.metadata.uid,
  );
}
