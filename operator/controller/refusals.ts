// What the API server's refusal of a pod means for the RayCluster it was built from: which of the
// user's own fields it names (the pod's `spec.containers[1].name` is the RayCluster's
// `spec.podTypes[1].podConfig.spec.containers[1].name`), and whether retrying can ever help.
import { ApiError } from "../kube/rest";

/** How a refusal is handled: `terminal` ones wait for a new generation, `slow` ones are retried rarely. */
export type RefusalKind = "terminal" | "slow";

export interface Refusal {
  kind: RefusalKind;
  /** For status and events: the RayCluster's own fields named. */
  message: string;
}

interface StatusCause {
  field?: unknown;
  message?: unknown;
}

/** The RayCluster's path of a field of a pod built from pod type `typeIndex`. */
export function clusterPathOf(podField: string, typeIndex: number): string {
  const base = `spec.podTypes[${typeIndex}].podConfig`;
  // The name is generated from podConfig's generateName (or the cluster's name).
  if (podField === "metadata.name" || podField === "metadata.generateName") return `${base}.metadata.generateName`;
  return `${base}.${podField}`;
}

/**
 * A refusal that no retry can change (400 Bad Request, 422 Invalid: the pod as built is wrong) is
 * `terminal`; a 403 (Pod Security, a quota, an admission policy) may change without the RayCluster
 * changing, so it is retried, slowly. Anything else (409, 429, 5xx, a timeout) is not a refusal.
 */
export function refusalOf(error: unknown, typeIndex: number, what: string): Refusal | undefined {
  if (!(error instanceof ApiError) || ![400, 403, 422].includes(error.code)) return undefined;
  const details = (error.status as { details?: { causes?: StatusCause[] } } | undefined)?.details;
  const causes = (details?.causes ?? []).filter((c) => typeof c.field === "string" && c.field !== "");
  const named = causes.map((c) => `${clusterPathOf(String(c.field), typeIndex)}: ${String(c.message ?? "")}`);
  // An authorization refusal says nothing about the spec: the operator's own RBAC, or an API server
  // that has just restarted and not yet loaded its authorizer's caches (seen in the fault suite).
  if (error.code === 403 && / cannot \w+ resource /.test(error.message))
    return { kind: "slow", message: `${what} refused: the operator is not allowed (RBAC): ${error.message}` };
  const message = named.length ? named.join("; ") : `spec.podTypes[${typeIndex}].podConfig: ${error.message}`;
  return { kind: error.code === 403 ? "slow" : "terminal", message: `${what} refused: ${message}` };
}
