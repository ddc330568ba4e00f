// A client for the head's control store (GCS, port 6379): Ray 2.x's
// `ray.rpc.autoscaler.AutoscalerStateService`, the service Ray's own autoscaler v2 and KubeRay use.
//
//   const gcs = new GcsAutoscalerClient({ address: "example-cluster-ray-head.ray.svc:6379" });
//   const state = await gcs.getClusterResourceState();      // nodes, demand, gangs, constraints
//   await gcs.reportAutoscalingState({ ... });                // what we decided, shown by `ray status`
//   await gcs.drainNode({ nodeId, reason: "IDLE_TERMINATION", message: "idle 5 min" });
//   gcs.close();
//
// Every call carries a deadline (default 5 s) and does not wait for the channel to become ready, so
// a head that is down fails the call at once (UNAVAILABLE) instead of hanging the reconcile loop;
// errors are GcsError with the gRPC code, the method and the address. Messages are encoded by our own
// schemas (autoscaler-proto.ts), so nothing is generated and nothing is loaded at run time.
import * as grpc from "@grpc/grpc-js";
import {
  AUTOSCALER_SERVICE,
  AutoscalingState as AutoscalingStateSchema,
  DrainNodeReasonEnum,
  DrainNodeReply,
  DrainNodeRequest,
  GetClusterResourceStateReply,
  GetClusterResourceStateRequest,
  GetClusterStatusReply,
  GetClusterStatusRequest,
  NodeStatusEnum,
  PlacementStrategyEnum,
  ReportAutoscalingStateReply,
  ReportAutoscalingStateRequest,
} from "./autoscaler-proto";
import { decodeMessage, Decoded, encodeMessage, MessageSchema } from "./protowire";

export type ResourceMap = Record<string, number>;

/** ray.rpc.autoscaler.NodeStatus, by name. */
export type RayNodeStatus = keyof typeof NodeStatusEnum;

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
  /** Label selectors, kept as decoded (rarely used; shown for completeness). */
  labelSelectors: Decoded[];
}

export interface ResourceRequestByCountInfo {
  request: ResourceRequestInfo;
  count: number;
}

export type PlacementStrategy = keyof typeof PlacementStrategyEnum;

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

/** What we tell the GCS we decided (ray.rpc.autoscaler.AutoscalingState); `ray status` shows it. */
export interface AutoscalingStateReport {
  /** The ClusterResourceState version this decision was made from. */
  lastSeenClusterResourceStateVersion: number;
  /** Must increase with every report (the GCS ignores a report older than the one it has). */
  autoscalerStateVersion: number;
  /** Pods asked for, by type, not yet running. */
  pendingInstanceRequests?: { rayNodeTypeName: string; instanceTypeName?: string; count: number; requestTsMs?: number }[];
  /** Pods created that have not joined Ray yet. */
  pendingInstances?: { rayNodeTypeName: string; instanceTypeName?: string; instanceId: string; ipAddress?: string; details?: string }[];
  infeasibleResourceRequests?: ResourceMap[];
  infeasibleGangResourceRequests?: { bundles: ResourceMap[]; details?: string }[];
  infeasibleClusterResourceConstraints?: { resources: ResourceMap; count: number }[][];
  failedInstanceRequests?: {
    rayNodeTypeName: string;
    instanceTypeName?: string;
    count: number;
    reason: string;
    startTsMs?: number;
    failedTsMs?: number;
  }[];
}

export type DrainReason = "IDLE_TERMINATION" | "PREEMPTION";

export interface DrainNodeArgs {
  /** The node id, hex (RayNodeState.nodeId) or raw bytes. */
  nodeId: string | Uint8Array;
  reason: DrainReason;
  message: string;
  /** Absolute deadline in ms since the epoch after which Ray may kill running work; 0: none. */
  deadlineTimestampMs?: number;
}

export interface DrainNodeResult {
  accepted: boolean;
  /** Why Ray refused, e.g. when an IDLE_TERMINATION drain finds the node busy again. */
  rejectionReason: string;
}

export interface GcsClientOptions {
  /** `host:port` of the head's GCS (6379 by default in Ray). */
  address: string;
  /** Deadline of each call unless the call says otherwise (5000 ms). */
  timeoutMs?: number;
  /** Ray token authentication (RAY_AUTH_MODE=token): sent as `authorization: Bearer <token>`. */
  authToken?: string;
}

export interface CallOptions {
  timeoutMs?: number;
}

/** A failed GCS call: gRPC status code and details, which method, which address. */
export class GcsError extends Error {
  constructor(
    readonly method: string,
    readonly address: string,
    readonly code: grpc.status,
    readonly details: string,
  ) {
    super(`GCS ${address} ${method}: ${grpc.status[code] ?? code}: ${details}`);
    this.name = "GcsError";
  }

  /** True when the head could not be reached or answered too late (worth a retry with backoff). */
  get unreachable(): boolean {
    return this.code === grpc.status.UNAVAILABLE || this.code === grpc.status.DEADLINE_EXCEEDED;
  }
}

const DEFAULT_TIMEOUT_MS = 5000;
// Ray's GCS replies can be large on big clusters (every node's resources and labels); gRPC's
// default receive limit is 4 MiB.
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

export class GcsAutoscalerClient {
  readonly address: string;
  private readonly client: grpc.Client;
  private readonly timeoutMs: number;
  private readonly authToken?: string;

  constructor(opts: GcsClientOptions) {
    this.address = opts.address;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.authToken = opts.authToken;
    this.client = new grpc.Client(opts.address, grpc.credentials.createInsecure(), {
      "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
      // Reconnect quickly after a head restart rather than backing off for minutes; the caller's
      // own loop already paces retries.
      "grpc.initial_reconnect_backoff_ms": 500,
      "grpc.max_reconnect_backoff_ms": 5000,
      // Keep the connection of a long-lived operator healthy through idle periods.
      "grpc.keepalive_time_ms": 30000,
      "grpc.keepalive_timeout_ms": 10000,
    });
  }

  /** The cluster's nodes and pending demand. `lastSeenVersion` lets the GCS know what we have. */
  async getClusterResourceState(
    opts: CallOptions & { lastSeenVersion?: number } = {},
  ): Promise<ClusterResourceState> {
    const reply = await this.call(
      "GetClusterResourceState",
      GetClusterResourceStateRequest,
      GetClusterResourceStateReply,
      { last_seen_cluster_resource_state_version: opts.lastSeenVersion ?? 0 },
      opts,
    );
    return toClusterResourceState((reply.cluster_resource_state as Decoded | undefined) ?? {});
  }

  /** Reports the autoscaler's decision; Ray keeps the newest and `ray status` prints it. */
  async reportAutoscalingState(report: AutoscalingStateReport, opts: CallOptions = {}): Promise<void> {
    await this.call(
      "ReportAutoscalingState",
      ReportAutoscalingStateRequest,
      ReportAutoscalingStateReply,
      { autoscaling_state: fromAutoscalingStateReport(report) },
      opts,
    );
  }

  /**
   * Asks Ray to drain a node before its pod is deleted. For IDLE_TERMINATION the raylet accepts only
   * if the node is still idle, which closes the race between "idle for 5 minutes" and a task that
   * lands on it just now; a rejected drain means: keep the node.
   */
  async drainNode(args: DrainNodeArgs, opts: CallOptions = {}): Promise<DrainNodeResult> {
    const nodeId = typeof args.nodeId === "string" ? Buffer.from(args.nodeId, "hex") : Buffer.from(args.nodeId);
    if (nodeId.length === 0) throw new Error("drainNode: empty node id");
    const reply = await this.call(
      "DrainNode",
      DrainNodeRequest,
      DrainNodeReply,
      {
        node_id: nodeId,
        reason: DrainNodeReasonEnum[`DRAIN_NODE_REASON_${args.reason}`],
        reason_message: args.message,
        deadline_timestamp_ms: args.deadlineTimestampMs ?? 0,
      },
      opts,
    );
    return { accepted: reply.is_accepted as boolean, rejectionReason: reply.rejection_reason_message as string };
  }

  /**
   * What `ray status` reads: the cluster state plus the last autoscaling state reported. Mainly for
   * tests and diagnostics; the raw autoscaling state is returned decoded (snake_case keys).
   */
  async getClusterStatus(opts: CallOptions = {}): Promise<{ clusterResourceState: ClusterResourceState; autoscalingState?: Decoded }> {
    const reply = await this.call("GetClusterStatus", GetClusterStatusRequest, GetClusterStatusReply, {}, opts);
    return {
      clusterResourceState: toClusterResourceState((reply.cluster_resource_state as Decoded | undefined) ?? {}),
      autoscalingState: reply.autoscaling_state as Decoded | undefined,
    };
  }

  close(): void {
    this.client.close();
  }

  private call(
    method: string,
    requestSchema: MessageSchema,
    replySchema: MessageSchema,
    request: Decoded,
    opts: CallOptions,
  ): Promise<Decoded> {
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    const metadata = new grpc.Metadata();
    if (this.authToken) metadata.set("authorization", `Bearer ${this.authToken}`);
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest<Decoded, Decoded>(
        `/${AUTOSCALER_SERVICE}/${method}`,
        (msg) => encodeMessage(requestSchema, msg),
        (buf) => decodeMessage(replySchema, buf),
        request,
        metadata,
        // waitForReady stays false: an unreachable head fails now, not at the deadline.
        { deadline: Date.now() + timeoutMs },
        (err, reply) => {
          if (err) reject(new GcsError(method, this.address, err.code ?? grpc.status.UNKNOWN, err.details || err.message));
          else resolve(reply ?? {});
        },
      );
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Decoded messages → typed results
// ---------------------------------------------------------------------------------------------

const NODE_STATUS_BY_NUMBER = new Map<number, RayNodeStatus>(
  Object.entries(NodeStatusEnum).map(([k, v]) => [v, k as RayNodeStatus]),
);

function toResourceRequest(d: Decoded): ResourceRequestInfo {
  return {
    resources: { ...(d.resources_bundle as ResourceMap) },
    placementConstraints: (d.placement_constraints as Decoded[]).map((c) => {
      const out: PlacementConstraintInfo = {};
      const anti = c.anti_affinity as Decoded | undefined;
      const aff = c.affinity as Decoded | undefined;
      if (anti) out.antiAffinity = { labelName: anti.label_name as string, labelValue: anti.label_value as string };
      if (aff) out.affinity = { labelName: aff.label_name as string, labelValue: aff.label_value as string };
      return out;
    }),
    labelSelectors: d.label_selectors as Decoded[],
  };
}

function toByCount(d: Decoded): ResourceRequestByCountInfo {
  return {
    request: toResourceRequest((d.request as Decoded | undefined) ?? { resources_bundle: {}, placement_constraints: [], label_selectors: [] }),
    count: d.count as number,
  };
}

/** Reads a placement group's strategy from what the GCS put in its gang request. */
export function gangStrategy(bundles: ResourceRequestInfo[], details: string): PlacementStrategy {
  if (bundles.some((b) => b.placementConstraints.some((c) => c.antiAffinity))) return "STRICT_SPREAD";
  if (bundles.some((b) => b.placementConstraints.some((c) => c.affinity))) return "STRICT_PACK";
  // No constraint: PACK or SPREAD, named in the details text (longest names first).
  const m = /\b(STRICT_SPREAD|STRICT_PACK|SPREAD|PACK)\b/.exec(details);
  return (m?.[1] as PlacementStrategy | undefined) ?? "PACK";
}

function toGang(d: Decoded): GangRequestInfo {
  // Ray ≥ 2.48 may send the bundles through `bundle_selectors` (fallback strategies); the first
  // selector is the primary choice, as in Ray's own scheduler. Older fields otherwise.
  const selectors = d.bundle_selectors as Decoded[];
  const raw = selectors.length > 0 ? (selectors[0].resource_requests as Decoded[]) : (d.requests as Decoded[]);
  const bundles = raw.map(toResourceRequest);
  const details = d.details as string;
  return { bundles, details, strategy: gangStrategy(bundles, details) };
}

function toNode(d: Decoded): RayNodeState {
  return {
    nodeId: (d.node_id as Buffer).toString("hex"),
    instanceId: d.instance_id as string,
    rayNodeTypeName: d.ray_node_type_name as string,
    instanceTypeName: d.instance_type_name as string,
    nodeIpAddress: d.node_ip_address as string,
    status: NODE_STATUS_BY_NUMBER.get(d.status as number) ?? "UNSPECIFIED",
    totalResources: { ...(d.total_resources as ResourceMap) },
    availableResources: { ...(d.available_resources as ResourceMap) },
    idleDurationMs: d.idle_duration_ms as number,
    nodeActivity: d.node_activity as string[],
    labels: { ...(d.labels as Record<string, string>) },
    dynamicLabels: { ...(d.dynamic_labels as Record<string, string>) },
    nodeStateVersion: d.node_state_version as number,
  };
}

/** Converts a decoded ClusterResourceState (snake_case, defaults filled) to the typed result. */
export function toClusterResourceState(d: Decoded): ClusterResourceState {
  const list = (k: string) => (d[k] as Decoded[] | undefined) ?? [];
  return {
    version: (d.cluster_resource_state_version as number | undefined) ?? 0,
    lastSeenAutoscalerStateVersion: (d.last_seen_autoscaler_state_version as number | undefined) ?? 0,
    sessionName: (d.cluster_session_name as string | undefined) ?? "",
    nodes: list("node_states").map(toNode),
    pendingResourceRequests: list("pending_resource_requests").map(toByCount),
    pendingGangResourceRequests: list("pending_gang_resource_requests").map(toGang),
    clusterResourceConstraints: list("cluster_resource_constraints").map((c) =>
      (c.resource_requests as Decoded[]).map(toByCount),
    ),
  };
}

const bundle = (resources: ResourceMap): Decoded => ({ resources_bundle: resources });

/** Converts our report to the wire's AutoscalingState (snake_case). */
export function fromAutoscalingStateReport(r: AutoscalingStateReport): Decoded {
  return {
    last_seen_cluster_resource_state_version: r.lastSeenClusterResourceStateVersion,
    autoscaler_state_version: r.autoscalerStateVersion,
    pending_instance_requests: (r.pendingInstanceRequests ?? []).map((p) => ({
      instance_type_name: p.instanceTypeName ?? p.rayNodeTypeName,
      ray_node_type_name: p.rayNodeTypeName,
      count: p.count,
      request_ts: p.requestTsMs ?? 0,
    })),
    infeasible_resource_requests: (r.infeasibleResourceRequests ?? []).map(bundle),
    infeasible_gang_resource_requests: (r.infeasibleGangResourceRequests ?? []).map((g) => ({
      requests: g.bundles.map(bundle),
      details: g.details ?? "",
    })),
    infeasible_cluster_resource_constraints: (r.infeasibleClusterResourceConstraints ?? []).map((c) => ({
      resource_requests: c.map((x) => ({ request: bundle(x.resources), count: x.count })),
    })),
    pending_instances: (r.pendingInstances ?? []).map((p) => ({
      instance_type_name: p.instanceTypeName ?? p.rayNodeTypeName,
      ray_node_type_name: p.rayNodeTypeName,
      instance_id: p.instanceId,
      ip_address: p.ipAddress ?? "",
      details: p.details ?? "",
    })),
    failed_instance_requests: (r.failedInstanceRequests ?? []).map((f) => ({
      instance_type_name: f.instanceTypeName ?? f.rayNodeTypeName,
      ray_node_type_name: f.rayNodeTypeName,
      count: f.count,
      reason: f.reason,
      start_ts: f.startTsMs ?? 0,
      failed_ts: f.failedTsMs ?? 0,
    })),
  };
}

/** The AutoscalingState schema, re-exported for tests that decode what was reported. */
export { AutoscalingStateSchema };
