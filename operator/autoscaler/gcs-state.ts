// The cluster as the head's GCS reports it (ray.rpc.autoscaler.ClusterResourceState and what it holds),
// as the plain typed objects the autoscaler works with: numbers for int64s, hex node ids, statuses and
// strategies by name. gcs-client.ts returns it (and re-exports all of this); gcs-decode.ts makes it
// from the wire.
import * as autoscalerPb from "./gen/src/ray/protobuf/autoscaler_pb";
import type * as commonPb from "./gen/src/ray/protobuf/common_pb";

export type ResourceMap = Record<string, number>;

/** ray.rpc.autoscaler.NodeStatus, by name. */
export type RayNodeStatus = keyof typeof autoscalerPb.NodeStatus;

/** One Ray node as the GCS sees it (ray.rpc.autoscaler.NodeState). */
export interface RayNodeState {
  /** The raylet's node id, hex (what `ray status`, `ray list nodes` and the dashboard print). */
  nodeId: string;
  /** `RAY_CLOUD_INSTANCE_ID` of the node: the pod name, for nodes the operator started. */
  instanceId: string;
  /** `RAY_NODE_TYPE_NAME` of the node: the RayCluster pod type. */
  rayNodeTypeName: string;
  instanceTypeName: string;
  nodeIpAddress: string;
  status: RayNodeStatus;
  totalResources: ResourceMap;
  availableResources: ResourceMap;
  /** How long the node has been idle (0 while busy). */
  idleDurationMs: number;
  /** Human-readable reasons the node is busy (e.g. "Resource: CPU currently in use."). */
  nodeActivity: string[];
  labels: Record<string, string>;
  dynamicLabels: Record<string, string>;
  nodeStateVersion: number;
}

export interface PlacementConstraintInfo {
  antiAffinity?: { labelName: string; labelValue: string };
  affinity?: { labelName: string; labelValue: string };
}

/** ray.rpc.autoscaler.ResourceRequest: one bundle of resources, with its constraints. */
export interface ResourceRequestInfo {
  resources: ResourceMap;
  placementConstraints: PlacementConstraintInfo[];
  /** Label selectors, as Ray sent them (rarely used; kept for completeness). */
  labelSelectors: commonPb.LabelSelector[];
}

export interface ResourceRequestByCountInfo {
  request: ResourceRequestInfo;
  count: number;
}

/** ray.rpc.PlacementStrategy (common.proto), by name. */
export type PlacementStrategy = keyof typeof commonPb.PlacementStrategy;

/** A pending placement group (ray.rpc.autoscaler.GangResourceRequest). */
export interface GangRequestInfo {
  /** Its unplaced bundles. */
  bundles: ResourceRequestInfo[];
  /**
   * The group's strategy, derived as Ray's v2 scheduler reads it: the GCS marks the bundles of a
   * STRICT_PACK group with an affinity constraint on one label and those of a STRICT_SPREAD group with
   * an anti-affinity constraint; PACK and SPREAD carry none (the `details` text names the strategy).
   */
  strategy: PlacementStrategy;
  /** The GCS's free text, e.g. `<placement group id>:STRICT_SPREAD|PENDING`. */
  details: string;
}

/** The cluster as the GCS sees it (ray.rpc.autoscaler.ClusterResourceState). */
export interface ClusterResourceState {
  version: number;
  lastSeenAutoscalerStateVersion: number;
  sessionName: string;
  nodes: RayNodeState[];
  /** Pending tasks and actors, aggregated by shape. */
  pendingResourceRequests: ResourceRequestByCountInfo[];
  /** Pending placement groups. */
  pendingGangResourceRequests: GangRequestInfo[];
  /** `ray.autoscaler.sdk.request_resources(...)`: each is a list of bundles by count. */
  clusterResourceConstraints: ResourceRequestByCountInfo[][];
}

// The generated enum maps names to numbers and, being a numeric TypeScript enum, numbers back to
// names; the entries with a number value are the names.
const NODE_STATUS_BY_NUMBER = new Map<number, RayNodeStatus>(
  Object.entries(autoscalerPb.NodeStatus).flatMap(([name, value]): [number, RayNodeStatus][] =>
    typeof value === "number" ? [[value, name as RayNodeStatus]] : [],
  ),
);

/** A NodeStatus by name; one a newer Ray adds reads as UNSPECIFIED. */
export function nodeStatusName(status: number): RayNodeStatus {
  return NODE_STATUS_BY_NUMBER.get(status) ?? "UNSPECIFIED";
}

/** Reads a placement group's strategy from what the GCS put in its gang request. */
export function gangStrategy(bundles: ResourceRequestInfo[], details: string): PlacementStrategy {
  if (bundles.some((b) => b.placementConstraints.some((c) => c.antiAffinity))) return "STRICT_SPREAD";
  if (bundles.some((b) => b.placementConstraints.some((c) => c.affinity))) return "STRICT_PACK";
  // No constraint: PACK or SPREAD, named in the details text (longest names first).
  const named = /\b(STRICT_SPREAD|STRICT_PACK|SPREAD|PACK)\b/.exec(details)?.[1];
  return named === "STRICT_SPREAD" || named === "STRICT_PACK" || named === "SPREAD" ? named : "PACK";
}
