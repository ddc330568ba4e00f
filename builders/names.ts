// How a RayCluster's objects are named, found and owned: the head Service's name and address, the
// names of new pods, the labels that select them and the owner reference that ties them to the
// cluster.
import { API_VERSION, KIND, LABELS, NodeKind, OwnerReference, RayCluster } from "../api/v1/types";
import { DefaultedRayCluster, ResolvedPodType, headType } from "../api/v1/defaults";
import { randomInt } from "crypto";

/**
 * Annotation on worker pods: the name of the head pod they were started against. The operator names
 * each new head itself (see `newPodName`), so a new head and its workers can be created at once, and
 * a replaced head (always a new name) tells which workers belong to the old one.
 */
export const HEAD_NAME_ANNOTATION = "cluster.ray.io/head-pod-name";

export const headServiceName = (cluster: string) => `${cluster}-ray-head`;

/** How workers (and clients in the cluster) reach the head: the head Service's DNS name. */
export const headAddress = (cluster: string, namespace: string) => `${headServiceName(cluster)}.${namespace}.svc`;

export function ownerReference(rc: RayCluster): OwnerReference {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    name: rc.metadata.name!,
    uid: rc.metadata.uid!,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** Selects every pod of one cluster (and, optionally, one kind). */
export function podSelector(cluster: string, kind?: NodeKind): Record<string, string> {
  return kind ? { [LABELS.clusterName]: cluster, [LABELS.nodeType]: kind } : { [LABELS.clusterName]: cluster };
}

/** The prefix of the pods of a type: `generateName` from its podConfig, under the cluster's name. */
export function generateNameFor(cluster: string, type: ResolvedPodType, kind: NodeKind): string {
  const fromConfig = type.podConfig?.metadata?.generateName;
  if (fromConfig) return fromConfig.startsWith(`${cluster}-`) ? fromConfig : `${cluster}-${fromConfig}`;
  return `${cluster}-ray-${kind}-`;
}

// The API server's own alphabet for generateName suffixes (no vowels, no look-alike digits).
const NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";

/** A name as the API server's generateName would give it: the prefix (cut to 58) and 5 random characters. */
export function newPodName(generateName: string): string {
  let suffix = "";
  for (let i = 0; i < 5; i++) suffix += NAME_ALPHABET[randomInt(NAME_ALPHABET.length)];
  return `${generateName.slice(0, 58)}${suffix}`;
}

/** The name the operator gives a new head pod of this cluster (workers carry it: HEAD_NAME_ANNOTATION). */
export function newHeadPodName(rc: DefaultedRayCluster): string {
  return newPodName(generateNameFor(rc.metadata.name!, headType(rc.spec), "head"));
}
