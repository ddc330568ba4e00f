// Reading pods the way the reconciler needs: which cluster owns them, what they are, how they are.
import { LABELS, NodeKind, RayCluster } from "../../api/v1/types";
import type * as kube from "../../api/v1/kube-types";
import type { KubeObject, Stored } from "../kube/informer";
import { HEAD_NAME_ANNOTATION } from "../../builders/names";

/**
 * A pod as the cache holds it: the fields the operator reads, and no others (`cachedPod` copies
 * them). Typed this narrowly on purpose: code that starts reading another field of a cached pod does
 * not compile until the field is added here and to `cachedPod`.
 */
export interface Pod extends KubeObject {
  metadata: Pick<
    kube.ObjectMeta,
    | "namespace"
    | "uid"
    | "labels"
    | "annotations"
    | "ownerReferences"
    | "deletionTimestamp"
    | "creationTimestamp"
    | "resourceVersion"
  > & { name: string };
  spec?: Pick<kube.PodSpec, "nodeName">;
  status?: Pick<kube.PodStatus, "phase" | "podIP" | "reason" | "message"> & {
    conditions?: Array<Pick<kube.PodCondition, "type" | "status">>;
    /** Kept for finished pods only (a few): why they ended, logged before they are deleted (endOf). */
    containerStatuses?: Array<{ name: string; state?: ContainerEnd; lastState?: ContainerEnd }>;
  };
}

type Terminated = NonNullable<NonNullable<kube.ContainerStatus["state"]>["terminated"]>;
type ContainerEnd = { terminated?: Pick<Terminated, "exitCode" | "reason" | "message"> };

/** The annotations of a pod the operator reads (plan.ts: which head a worker was made for). */
const POD_ANNOTATIONS_READ = [HEAD_NAME_ANNOTATION];

/**
 * The cache's copy of a pod as the API server sends it: the fields of `Pod`, nothing else. A pod on
 * the wire is 4-8 KB of JSON (spec, managed fields, container statuses); this keeps a few hundred
 * bytes, which is what 1,000 or 10,000 cached pods cost.
 */
export function cachedPod(pod: Pod): Pod {
  const m = pod.metadata;
  const annotations: Record<string, string> = {};
  for (const k of POD_ANNOTATIONS_READ) if (m.annotations?.[k] !== undefined) annotations[k] = m.annotations[k];
  const out: Pod = {
    metadata: {
      name: m.name,
      namespace: m.namespace,
      uid: m.uid,
      labels: m.labels,
      annotations: Object.keys(annotations).length ? annotations : undefined,
      ownerReferences: m.ownerReferences,
      deletionTimestamp: m.deletionTimestamp,
      creationTimestamp: m.creationTimestamp,
      resourceVersion: m.resourceVersion,
    },
  };
  if (pod.spec?.nodeName) out.spec = { nodeName: pod.spec.nodeName };
  const st = pod.status;
  if (st) {
    out.status = { phase: st.phase, podIP: st.podIP };
    if (st.conditions) out.status.conditions = st.conditions.map((c) => ({ type: c.type, status: c.status }));
    if (st.phase === "Failed" || st.phase === "Succeeded") {
      if (st.reason) out.status.reason = st.reason;
      if (st.message) out.status.message = st.message;
      const end = (t?: Terminated): ContainerEnd | undefined =>
        t && { terminated: { exitCode: t.exitCode, reason: t.reason, message: t.message } };
      out.status.containerStatuses = (st.containerStatuses ?? []).map((c) => ({
        name: c.name,
        state: end(c.state?.terminated),
        lastState: end(c.lastState?.terminated),
      }));
    }
  }
  // Absent, not `undefined`: a field that is not there costs nothing in the object's hidden class.
  for (const k of Object.keys(out.metadata) as Array<keyof Pod["metadata"]>)
    if (out.metadata[k] === undefined) delete out.metadata[k];
  return out;
}
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
