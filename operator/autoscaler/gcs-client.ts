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
// errors are GcsError with the gRPC code, the method and the address.
//
// The messages and the service are TypeScript generated from the descriptors of the pinned Ray wheel
// (operator/autoscaler/gen/, written by scripts/proto/generate.sh, checked against the wheel by
// test/integration/ray-proto.test.ts), encoded by @bufbuild/protobuf. The transport stays
// @grpc/grpc-js with the generated toBinary/fromBinary as (de)serializers: it already gives the
// semantics above (per-call deadline, waitForReady off, status codes) with no extra dependency.
// This module turns the generated messages (bigint int64s, bytes, enums) into the plain typed
// objects the autoscaler works with (numbers, hex node ids, names), and back for the report.
import { create, fromBinary, protoInt64, toBinary } from "@bufbuild/protobuf";
import type { DescMessage, DescMethod, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
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

/** What we tell the GCS we decided (ray.rpc.autoscaler.AutoscalingState); `ray status` shows it. */
export interface AutoscalingStateReport {
  /** The ClusterResourceState version this decision was made from. */
  lastSeenClusterResourceStateVersion: number;
  /** Must increase with every report (the GCS ignores a report older than the one it has). */
  autoscalerStateVersion: number;
  /** Pods asked for, by type, not yet running. */
  pendingInstanceRequests?: PendingInstanceRequestReport[];
  /** Pods created that have not joined Ray yet. */
  pendingInstances?: PendingInstanceReport[];
  infeasibleResourceRequests?: ResourceMap[];
  infeasibleGangResourceRequests?: { bundles: ResourceMap[]; details?: string }[];
  infeasibleClusterResourceConstraints?: { resources: ResourceMap; count: number }[][];
  failedInstanceRequests?: FailedInstanceRequestReport[];
}

export interface PendingInstanceRequestReport {
  rayNodeTypeName: string;
  instanceTypeName?: string;
  count: number;
  requestTsMs?: number;
}

export interface PendingInstanceReport {
  rayNodeTypeName: string;
  instanceTypeName?: string;
  instanceId: string;
  ipAddress?: string;
  details?: string;
}

export interface FailedInstanceRequestReport {
  rayNodeTypeName: string;
  instanceTypeName?: string;
  count: number;
  reason: string;
  startTsMs?: number;
  failedTsMs?: number;
}

/** ray.rpc.autoscaler.DrainNodeReason by name, less UNSPECIFIED (the GCS rejects it). */
export type DrainReason = Exclude<keyof typeof autoscalerPb.DrainNodeReason, "UNSPECIFIED">;

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

/** A unary RPC of a generated service, typed by its request and reply messages. */
export type UnaryMethod<Request extends DescMessage, Reply extends DescMessage> = DescMethod & {
  methodKind: "unary";
  input: Request;
  output: Reply;
};

/**
 * The gRPC definition of a generated unary RPC: its path and the generated binary codec. The client
 * calls through it; a server (the fake GCS of the unit tests) can serve through it.
 */
export function grpcMethodDefinition<Request extends DescMessage, Reply extends DescMessage>(
  method: UnaryMethod<Request, Reply>,
): grpc.MethodDefinition<MessageShape<Request>, MessageShape<Reply>> {
  return {
    path: `/${method.parent.typeName}/${method.name}`,
    requestStream: false,
    responseStream: false,
    requestSerialize: (request) => asBuffer(toBinary(method.input, request)),
    requestDeserialize: (bytes) => fromBinary(method.input, bytes),
    responseSerialize: (reply) => asBuffer(toBinary(method.output, reply)),
    responseDeserialize: (bytes) => fromBinary(method.output, bytes),
  };
}

/** grpc-js wants a Buffer; this one shares the encoder's memory rather than copying it. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

const DEFAULT_TIMEOUT_MS = 5000;
// Ray's GCS replies can be large on big clusters (every node's resources and labels); gRPC's
// default receive limit is 4 MiB.
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/** The service's RPCs, by their generated names (getClusterResourceState, drainNode, ...). */
const AUTOSCALER_RPCS = autoscalerPb.AutoscalerStateService.method;

export class GcsAutoscalerClient {
  readonly address: string;
  /** The channel to the head, opened by the first call after construction or `disconnect()`. */
  private client?: grpc.Client;
  private readonly timeoutMs: number;
  private readonly authToken?: string;

  constructor(opts: GcsClientOptions) {
    this.address = opts.address;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.authToken = opts.authToken;
  }

  private channel(): grpc.Client {
    this.client ??= new grpc.Client(this.address, grpc.credentials.createInsecure(), {
      "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
      // Reconnect quickly after a head restart rather than backing off for minutes; the caller's
      // own loop already paces retries.
      "grpc.initial_reconnect_backoff_ms": 500,
      "grpc.max_reconnect_backoff_ms": 5000,
      // Keep the connection of a long-lived operator healthy through idle periods.
      "grpc.keepalive_time_ms": 30000,
      "grpc.keepalive_timeout_ms": 10000,
    });
    return this.client;
  }

  /** The cluster's nodes and pending demand. `lastSeenVersion` lets the GCS know what we have. */
  async getClusterResourceState(opts: CallOptions & { lastSeenVersion?: number } = {}): Promise<ClusterResourceState> {
    const reply = await this.call(
      AUTOSCALER_RPCS.getClusterResourceState,
      { lastSeenClusterResourceStateVersion: protoInt64.parse(opts.lastSeenVersion ?? 0) },
      opts,
    );
    return toClusterResourceState(reply.clusterResourceState ?? create(autoscalerPb.ClusterResourceStateSchema));
  }

  /** Reports the autoscaler's decision; Ray keeps the newest and `ray status` prints it. */
  async reportAutoscalingState(report: AutoscalingStateReport, opts: CallOptions = {}): Promise<void> {
    const autoscalingState = fromAutoscalingStateReport(report);
    await this.call(AUTOSCALER_RPCS.reportAutoscalingState, { autoscalingState }, opts);
  }

  /**
   * Asks Ray to drain a node before its pod is deleted. For IDLE_TERMINATION the raylet accepts only
   * if the node is still idle, which closes the race between "idle for 5 minutes" and a task that
   * lands on it just now; a rejected drain means: keep the node.
   */
  async drainNode(args: DrainNodeArgs, opts: CallOptions = {}): Promise<DrainNodeResult> {
    const nodeId = typeof args.nodeId === "string" ? Buffer.from(args.nodeId, "hex") : args.nodeId;
    if (nodeId.length === 0) throw new Error("drainNode: empty node id");
    const reply = await this.call(
      AUTOSCALER_RPCS.drainNode,
      {
        nodeId,
        reason: autoscalerPb.DrainNodeReason[args.reason],
        reasonMessage: args.message,
        deadlineTimestampMs: protoInt64.parse(args.deadlineTimestampMs ?? 0),
      },
      opts,
    );
    return { accepted: reply.isAccepted, rejectionReason: reply.rejectionReasonMessage };
  }

  /**
   * What `ray status` reads: the cluster state plus the last autoscaling state reported. Mainly for
   * tests and diagnostics; the autoscaling state is returned as the generated message.
   */
  async getClusterStatus(
    opts: CallOptions = {},
  ): Promise<{ clusterResourceState: ClusterResourceState; autoscalingState?: autoscalerPb.AutoscalingState }> {
    const reply = await this.call(AUTOSCALER_RPCS.getClusterStatus, {}, opts);
    return {
      clusterResourceState: toClusterResourceState(
        reply.clusterResourceState ?? create(autoscalerPb.ClusterResourceStateSchema),
      ),
      autoscalingState: reply.autoscalingState,
    };
  }

  /**
   * Closes the channel until the next call opens a new one: for a head that cannot be reached, so
   * that the operator holds no channel (~90 KB each, with its resolver and reconnect timers) for
   * the minutes its backoff lasts.
   */
  disconnect(): void {
    this.client?.close();
    this.client = undefined;
  }

  close(): void {
    this.disconnect();
  }

  private call<Request extends DescMessage, Reply extends DescMessage>(
    method: UnaryMethod<Request, Reply>,
    request: MessageInitShape<Request>,
    opts: CallOptions,
  ): Promise<MessageShape<Reply>> {
    const definition = grpcMethodDefinition(method);
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    const metadata = new grpc.Metadata();
    if (this.authToken) metadata.set("authorization", `Bearer ${this.authToken}`);
    return new Promise((resolve, reject) => {
      this.channel().makeUnaryRequest(
        definition.path,
        definition.requestSerialize,
        definition.responseDeserialize,
        create(method.input, request),
        metadata,
        // waitForReady stays false: an unreachable head fails now, not at the deadline.
        { deadline: Date.now() + timeoutMs },
        (err, reply) => {
          if (err) {
            const code = err.code ?? grpc.status.UNKNOWN;
            reject(new GcsError(method.name, this.address, code, err.details || err.message));
          } else {
            resolve(reply ?? create(method.output));
          }
        },
      );
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Generated messages → typed results
// ---------------------------------------------------------------------------------------------

// The generated enum maps names to numbers and, being a numeric TypeScript enum, numbers back to
// names; the entries with a number value are the names.
const NODE_STATUS_BY_NUMBER = new Map<number, RayNodeStatus>(
  Object.entries(autoscalerPb.NodeStatus).flatMap(([name, value]): [number, RayNodeStatus][] =>
    typeof value === "number" ? [[value, name as RayNodeStatus]] : [],
  ),
);

function hex(bytes: Uint8Array): string {
  return asBuffer(bytes).toString("hex");
}

function toPlacementConstraint(constraint: autoscalerPb.PlacementConstraint): PlacementConstraintInfo {
  const info: PlacementConstraintInfo = {};
  const { antiAffinity, affinity } = constraint;
  if (antiAffinity) info.antiAffinity = { labelName: antiAffinity.labelName, labelValue: antiAffinity.labelValue };
  if (affinity) info.affinity = { labelName: affinity.labelName, labelValue: affinity.labelValue };
  return info;
}

// The decoded reply belongs to the call that converts it, and nothing else holds it: its maps and
// lists are handed on as they are, not copied (a 1,000-node state has thousands of them per pass).

function toResourceRequest(request: autoscalerPb.ResourceRequest): ResourceRequestInfo {
  return {
    resources: request.resourcesBundle,
    placementConstraints: request.placementConstraints.map(toPlacementConstraint),
    labelSelectors: request.labelSelectors,
  };
}

function toByCount(byCount: autoscalerPb.ResourceRequestByCount): ResourceRequestByCountInfo {
  return {
    request: toResourceRequest(byCount.request ?? create(autoscalerPb.ResourceRequestSchema)),
    count: Number(byCount.count),
  };
}

/** Reads a placement group's strategy from what the GCS put in its gang request. */
export function gangStrategy(bundles: ResourceRequestInfo[], details: string): PlacementStrategy {
  if (bundles.some((b) => b.placementConstraints.some((c) => c.antiAffinity))) return "STRICT_SPREAD";
  if (bundles.some((b) => b.placementConstraints.some((c) => c.affinity))) return "STRICT_PACK";
  // No constraint: PACK or SPREAD, named in the details text (longest names first).
  const named = /\b(STRICT_SPREAD|STRICT_PACK|SPREAD|PACK)\b/.exec(details)?.[1];
  return named === "STRICT_SPREAD" || named === "STRICT_PACK" || named === "SPREAD" ? named : "PACK";
}

function toGang(gang: autoscalerPb.GangResourceRequest): GangRequestInfo {
  // Ray ≥ 2.48 may send the bundles through `bundle_selectors` (fallback strategies); the first
  // selector is the primary choice, as in Ray's own scheduler. Older fields otherwise.
  const [primarySelector] = gang.bundleSelectors;
  const requests = primarySelector ? primarySelector.resourceRequests : gang.requests;
  const bundles = requests.map(toResourceRequest);
  return { bundles, details: gang.details, strategy: gangStrategy(bundles, gang.details) };
}

function toNode(node: autoscalerPb.NodeState): RayNodeState {
  return {
    nodeId: hex(node.nodeId),
    instanceId: node.instanceId,
    rayNodeTypeName: node.rayNodeTypeName,
    instanceTypeName: node.instanceTypeName,
    nodeIpAddress: node.nodeIpAddress,
    // A status a newer Ray adds reads as UNSPECIFIED.
    status: NODE_STATUS_BY_NUMBER.get(node.status) ?? "UNSPECIFIED",
    totalResources: node.totalResources,
    availableResources: node.availableResources,
    idleDurationMs: Number(node.idleDurationMs),
    nodeActivity: node.nodeActivity,
    labels: node.labels,
    dynamicLabels: node.dynamicLabels,
    nodeStateVersion: Number(node.nodeStateVersion),
  };
}

/**
 * Converts the generated ClusterResourceState (int64s as bigint, node ids as bytes) to the typed result,
 * which shares the message's maps and lists (see above): the message is not to be changed after.
 */
export function toClusterResourceState(state: autoscalerPb.ClusterResourceState): ClusterResourceState {
  return {
    version: Number(state.clusterResourceStateVersion),
    lastSeenAutoscalerStateVersion: Number(state.lastSeenAutoscalerStateVersion),
    sessionName: state.clusterSessionName,
    nodes: state.nodeStates.map(toNode),
    pendingResourceRequests: state.pendingResourceRequests.map(toByCount),
    pendingGangResourceRequests: state.pendingGangResourceRequests.map(toGang),
    clusterResourceConstraints: state.clusterResourceConstraints.map((constraint) =>
      constraint.resourceRequests.map(toByCount),
    ),
  };
}

// ---------------------------------------------------------------------------------------------
// Our report → the generated AutoscalingState
// ---------------------------------------------------------------------------------------------

const bundle = (resources: ResourceMap): MessageInitShape<typeof autoscalerPb.ResourceRequestSchema> => ({
  resourcesBundle: resources,
});

/** Converts our report to the wire's AutoscalingState (the instance type defaults to the Ray type). */
export function fromAutoscalingStateReport(report: AutoscalingStateReport): autoscalerPb.AutoscalingState {
  return create(autoscalerPb.AutoscalingStateSchema, {
    lastSeenClusterResourceStateVersion: protoInt64.parse(report.lastSeenClusterResourceStateVersion),
    autoscalerStateVersion: protoInt64.parse(report.autoscalerStateVersion),
    pendingInstanceRequests: (report.pendingInstanceRequests ?? []).map((pending) => ({
      instanceTypeName: pending.instanceTypeName ?? pending.rayNodeTypeName,
      rayNodeTypeName: pending.rayNodeTypeName,
      count: pending.count,
      requestTs: protoInt64.parse(pending.requestTsMs ?? 0),
    })),
    infeasibleResourceRequests: (report.infeasibleResourceRequests ?? []).map(bundle),
    infeasibleGangResourceRequests: (report.infeasibleGangResourceRequests ?? []).map((gang) => ({
      requests: gang.bundles.map(bundle),
      details: gang.details ?? "",
    })),
    infeasibleClusterResourceConstraints: (report.infeasibleClusterResourceConstraints ?? []).map((constraint) => ({
      resourceRequests: constraint.map((byCount) => ({
        request: bundle(byCount.resources),
        count: protoInt64.parse(byCount.count),
      })),
    })),
    pendingInstances: (report.pendingInstances ?? []).map((pending) => ({
      instanceTypeName: pending.instanceTypeName ?? pending.rayNodeTypeName,
      rayNodeTypeName: pending.rayNodeTypeName,
      instanceId: pending.instanceId,
      ipAddress: pending.ipAddress ?? "",
      details: pending.details ?? "",
    })),
    failedInstanceRequests: (report.failedInstanceRequests ?? []).map((failed) => ({
      instanceTypeName: failed.instanceTypeName ?? failed.rayNodeTypeName,
      rayNodeTypeName: failed.rayNodeTypeName,
      count: failed.count,
      reason: failed.reason,
      startTs: protoInt64.parse(failed.startTsMs ?? 0),
      failedTs: protoInt64.parse(failed.failedTsMs ?? 0),
    })),
  });
}

/** The AutoscalingState schema, re-exported for tests that decode what was reported. */
export const AutoscalingStateSchema = autoscalerPb.AutoscalingStateSchema;
