// The RayCluster API, cluster.ray.io/v1: the TypeScript shape of what users write and what the
// operator reports. The CRD schema (crd.ts) and the defaults (defaults.ts) describe the same fields;
// a test checks that the three agree.
import type { ObjectMeta, OwnerReference, PodSpec } from "./kube-types";

// Kubernetes' own shapes, as JSON carries them (client-node's models, types only).
export type { ObjectMeta, OwnerReference };

export const GROUP = "cluster.ray.io";
export const VERSION = "v1";
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = "RayCluster";
export const PLURAL = "rayclusters";
export const SINGULAR = "raycluster";
export const SHORT_NAMES = ["rayc"];
export const CRD_NAME = `${PLURAL}.${GROUP}`;

/** A Pod manifest as the user writes it in `podConfig`: metadata + spec, kept as plain JSON. */
export interface PodConfig {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  spec: PodSpec;
}

export interface PodType {
  name: string;
  /** Workers of this type kept at all times (0). */
  minWorkers?: number;
  /** Cap on workers of this type (the global maxWorkers; 0 for the head type). */
  maxWorkers?: number;
  /** Resources Ray sees on a node of this type; overrides what is read from the pod's resources. */
  rayResources?: Record<string, number>;
  setupCommands?: string[];
  podConfig: PodConfig;
}

export interface HeadServicePort {
  name: string;
  port: number;
  targetPort?: number;
}

export interface RayClusterSpec {
  maxWorkers?: number;
  upscalingSpeed?: number;
  idleTimeoutMinutes?: number;
  headPodType: string;
  podTypes: PodType[];
  headStartRayCommands?: string[];
  workerStartRayCommands?: string[];
  headServicePorts?: HeadServicePort[];
}

/** The phases the original operator reported, plus the ones between them. */
export type Phase = "Pending" | "Running" | "Updating" | "Restarting" | "Error" | "AutoscalingExceptionRecovery";

export type ConditionType = "Ready" | "Reconciling" | "Stalled" | "AutoscalerReachable";

export interface Condition {
  type: ConditionType | string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
  observedGeneration?: number;
  lastTransitionTime: string;
}

export interface PodTypeStatus {
  name: string;
  /** Pods of this type the operator wants (1 for the head type). */
  desired: number;
  /** Pods that exist and are not terminating. */
  current: number;
  running: number;
  ready: number;
  /** Pods built from an older launch config, waiting to be replaced. */
  outdated: number;
}

export interface AutoscalerStatus {
  lastUpdateTime?: string;
  /** Worker count per type that the autoscaler asked for. */
  targetWorkers?: Record<string, number>;
  /** One line per type of demand that fits no node type, as Ray would print it. */
  infeasible?: string[];
  /** Node requests of the last decision: type -> count. */
  nodeRequests?: Record<string, number>;
  /** Pods the last decision removed as idle. */
  removed?: string[];
  /**
   * Worker pods the autoscaler chose to remove and is draining in Ray, written before it asks Ray:
   * after an operator restart, exactly these (once Ray drained them) go, and none is replaced.
   */
  draining?: string[];
  message?: string;
}

export interface RayClusterStatus {
  phase?: Phase;
  observedGeneration?: number;
  conditions?: Condition[];
  /** The launch hash pods are built from now. */
  launchConfig?: string;
  head?: { podName?: string; podIP?: string; serviceName?: string; serviceIP?: string };
  /** Worker totals over every worker type: desired / current / ready, for printer columns. */
  workers?: { desired: number; current: number; ready: number };
  podTypes?: PodTypeStatus[];
  /** How many times the cluster was restarted because the head was lost. */
  headRestarts?: number;
  autoscaler?: AutoscalerStatus;
}

export interface RayCluster {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: ObjectMeta;
  spec: RayClusterSpec;
  status?: RayClusterStatus;
}

/** The labels the original operator put on every pod; existing selectors depend on them. */
export const LABELS = {
  clusterName: "ray-cluster-name",
  nodeType: "ray-node-type",
  userNodeType: "ray-user-node-type",
  launchConfig: "ray-launch-config",
  managedBy: "app.kubernetes.io/managed-by",
} as const;

export const MANAGED_BY = "ray-operator";

export type NodeKind = "head" | "worker";

/** Ports of the head Service that every cluster gets; `headServicePorts` adds to or overrides them by name. */
export const DEFAULT_HEAD_PORTS: readonly HeadServicePort[] = [
  { name: "gcs", port: 6379, targetPort: 6379 },
  { name: "client", port: 10001, targetPort: 10001 },
  { name: "dashboard", port: 8265, targetPort: 8265 },
];

/**
 * In cluster-wide mode the operator runs RayClusters only in namespaces that opted in by carrying
 * this label, with the namespace of the operator's own install as its value
 * (`kubectl label namespace team-a cluster.ray.io/operator=ray`): whoever can create a RayCluster can
 * run any pod it describes, so a namespace's owners decide.
 */
export const OPERATOR_OPT_IN_LABEL = "cluster.ray.io/operator";
/** Pod Security admission's enforce label: the operator creates no pod in a namespace without it. */
export const POD_SECURITY_ENFORCE_LABEL = "pod-security.kubernetes.io/enforce";
