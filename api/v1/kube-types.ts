// Kubernetes' own objects, typed with client-node's models as they travel in JSON. The models say
// `Date` where the API server sends RFC 3339 text (client-node's serializer converts them; the
// operator's REST layer, operator/kube/rest.ts, does not), so `Json<T>` turns every Date back into a
// string. Types only: `import type` loads nothing at run time, so the API, the builders and the
// operator's image depend on no client library through them.
//
// Quantities: client-node types them as strings. A podConfig written in YAML may carry numbers
// (`cpu: 1`), which the API server accepts too; code that reads one takes `string | number`.
import type * as k8s from "@kubernetes/client-node";

/** A client-node model as JSON carries it: every Date an RFC 3339 string. */
export type Json<T> = T extends Date
  ? string
  : T extends Array<infer E>
    ? Array<Json<E>>
    : T extends object
      ? { [K in keyof T]: Json<T[K]> }
      : T;

export type ObjectMeta = Json<k8s.V1ObjectMeta>;
/** client-node's V1ListMeta calls `continue` `_continue`; this is the wire's name. */
export interface ListMeta {
  continue?: string;
  resourceVersion?: string;
  remainingItemCount?: number;
}
export type OwnerReference = k8s.V1OwnerReference;
/** The body of an API error (and of a watch's ERROR event). */
export type Status = k8s.V1Status;

export type Pod = Json<k8s.V1Pod>;
export type PodSpec = Json<k8s.V1PodSpec>;
export type PodStatus = Json<k8s.V1PodStatus>;
export type PodCondition = Json<k8s.V1PodCondition>;
export type ContainerStatus = Json<k8s.V1ContainerStatus>;
export type Container = Json<k8s.V1Container>;
export type EnvVar = k8s.V1EnvVar;
export type Volume = Json<k8s.V1Volume>;
export type VolumeMount = k8s.V1VolumeMount;
export type Probe = k8s.V1Probe;
export type Service = Json<k8s.V1Service>;
export type ServicePort = k8s.V1ServicePort;
export type Namespace = Json<k8s.V1Namespace>;
export type Deployment = Json<k8s.V1Deployment>;
export type ServiceAccount = Json<k8s.V1ServiceAccount>;
export type Role = Json<k8s.V1Role>;
export type RoleBinding = Json<k8s.V1RoleBinding>;
export type ClusterRole = Json<k8s.V1ClusterRole>;
export type ClusterRoleBinding = Json<k8s.V1ClusterRoleBinding>;
export type Lease = Json<k8s.V1Lease>;
export type LeaseSpec = Json<k8s.V1LeaseSpec>;
export type Event = Json<k8s.CoreV1Event>;

/** What a list request returns. */
export interface List<T> {
  metadata?: ListMeta;
  items: T[];
}

/**
 * An object as a builder writes it, to be sent to the API server or applied by Pulumi: its
 * apiVersion and kind fixed (Pulumi's input types ask for the literals), its metadata set.
 */
export type Manifest<T, ApiVersion extends string, Kind extends string> = T & {
  apiVersion: ApiVersion;
  kind: Kind;
  metadata: ObjectMeta;
};
