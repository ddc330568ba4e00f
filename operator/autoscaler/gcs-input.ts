// From what the GCS reports (gcs-client.ts) to the scheduler's view of Ray (scheduler.ts): nodes,
// pending demand, placement groups and request_resources() constraints. Pure; the operator adds what
// only it knows (pod types and limits from the RayCluster spec, pods created but not yet in Ray).
import type { ClusterResourceState, RayNodeState } from "./gcs-client";
import type { ClusterNode, GangDemand, ResourceDemand } from "./scheduler";

/** Ray gives the head this resource (Ray ≥ 2.x), whatever its RAY_NODE_TYPE_NAME. */
export const HEAD_MARKER_RESOURCE = "node:__internal_head__";

export interface ObservedRay {
  nodes: ClusterNode[];
  demands: ResourceDemand[];
  gangs: GangDemand[];
  constraints: ResourceDemand[];
  /** GCS node id (hex) by instance id, for DrainNode. */
  nodeIds: Record<string, string>;
}

export function isHeadNode(n: RayNodeState): boolean {
  return HEAD_MARKER_RESOURCE in n.totalResources;
}

/**
 * Maps a ClusterResourceState to the scheduler's input parts. Nodes are keyed by their instance id
 * (the pod name from RAY_CLOUD_INSTANCE_ID); a node without one (started by hand) gets
 * `ray-node-<node id>` and keeps whatever type it reports, so it counts as capacity but, having no
 * known type, is never removed. Label selectors and placement constraints of single requests are
 * not modelled (the original operator had none); a request's resources are what is scheduled.
 */
export function observedFromGcs(state: ClusterResourceState): ObservedRay {
  const nodes: ClusterNode[] = [];
  const nodeIds: Record<string, string> = {};
  // Where each instance's node is in `nodes`: a lookup per row, not a scan (1,000 nodes: 500,000 compares).
  const position = new Map<string, number>();
  for (const n of state.nodes) {
    const instanceId = n.instanceId || `ray-node-${n.nodeId}`;
    // A DEAD node's row stays in the GCS for a while; the newest row of an instance wins (a pod
    // restarted in place joins as a new node with the same instance id).
    const existing = position.get(instanceId) ?? -1;
    const node: ClusterNode = {
      instanceId,
      type: n.rayNodeTypeName,
      total: n.totalResources,
      available: n.availableResources,
      status: n.status,
      idleMs: n.idleDurationMs,
      isHead: isHeadNode(n),
      activity: n.nodeActivity,
    };
    if (existing >= 0) {
      if (n.status === "DEAD") continue;
      nodes[existing] = node;
    } else position.set(instanceId, nodes.push(node) - 1);
    nodeIds[instanceId] = n.nodeId;
  }
  const demands = state.pendingResourceRequests
    .filter((r) => r.count > 0)
    .map((r) => ({ resources: r.request.resources, count: r.count }));
  const gangs = state.pendingGangResourceRequests.map((g) => ({
    strategy: g.strategy,
    bundles: g.bundles.map((b) => b.resources),
  }));
  const constraints = state.clusterResourceConstraints
    .flat()
    .filter((r) => r.count > 0)
    .map((r) => ({ resources: r.request.resources, count: r.count }));
  return { nodes, demands, gangs, constraints, nodeIds };
}
