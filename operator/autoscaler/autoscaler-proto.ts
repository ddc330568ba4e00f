// The messages of Ray's `ray.rpc.autoscaler.AutoscalerStateService` that the operator uses, written
// out by us as schemas for operator/autoscaler/protowire.ts.
//
// Source of truth: `src/ray/protobuf/autoscaler.proto` (and `LabelSelector` / `PlacementStrategy`
// from `src/ray/protobuf/common.proto`, package `ray.rpc`) of Ray 2.60.0, the version pinned in
// scripts/toolchain/ray.sh. Every name and number below was read from the serialized descriptor the
// Ray wheel ships (`ray/core/generated/autoscaler_pb2.py`), and test/integration/ray-proto.test.ts
// compares this file with that descriptor field by field and round-trips messages through the
// wheel's own protobuf classes. A field Ray adds later is skipped on decode; a renumbering would fail
// that test.
//
// In proto syntax, the subset (all fields of each message listed, so none is silently dropped):
//
//   enum NodeStatus { UNSPECIFIED = 0; RUNNING = 1; DEAD = 2; IDLE = 3; DRAINING = 4; }
//   enum DrainNodeReason { DRAIN_NODE_REASON_UNSPECIFIED = 0; DRAIN_NODE_REASON_IDLE_TERMINATION = 1;
//                          DRAIN_NODE_REASON_PREEMPTION = 2; }
//   message AntiAffinityConstraint { string label_name = 1; string label_value = 2; }
//   message AffinityConstraint     { string label_name = 1; string label_value = 2; }
//   message PlacementConstraint { optional AntiAffinityConstraint anti_affinity = 1;
//                                 optional AffinityConstraint affinity = 2; }
//   message ResourceRequest { map<string, double> resources_bundle = 1;
//                             repeated PlacementConstraint placement_constraints = 2;
//                             repeated ray.rpc.LabelSelector label_selectors = 3; }
//   message ResourceRequestByCount { ResourceRequest request = 1; int64 count = 2; }
//   message LocalityConstraint { string label_name = 1; ray.rpc.PlacementStrategy placement_strategy = 2; }
//   message LocalityRequirement { LocalityConstraint locality_constraint = 1; ray.rpc.LabelSelector label_selector = 2; }
//   message BundleSelector { repeated ResourceRequest resource_requests = 1; LocalityRequirement locality_requirement = 2; }
//   message GangResourceRequest { repeated ResourceRequest requests = 1; string details = 2;
//                                 repeated BundleSelector bundle_selectors = 3; }
//   message ClusterResourceConstraint { repeated ResourceRequestByCount resource_requests = 1; }
//   message NodeState { bytes node_id = 1; string instance_id = 2; string ray_node_type_name = 3;
//     map<string, double> available_resources = 4; map<string, double> total_resources = 5;
//     map<string, string> dynamic_labels = 6; int64 node_state_version = 7; NodeStatus status = 8;
//     int64 idle_duration_ms = 9; string node_ip_address = 10; string instance_type_name = 11;
//     repeated string node_activity = 12; map<string, string> labels = 13; }
//   message GetClusterResourceStateRequest { int64 last_seen_cluster_resource_state_version = 1; }
//   message ClusterResourceState { int64 cluster_resource_state_version = 1;
//     int64 last_seen_autoscaler_state_version = 2; repeated NodeState node_states = 3;
//     repeated ResourceRequestByCount pending_resource_requests = 4;
//     repeated GangResourceRequest pending_gang_resource_requests = 5;
//     repeated ClusterResourceConstraint cluster_resource_constraints = 6; string cluster_session_name = 7; }
//   message GetClusterResourceStateReply { ClusterResourceState cluster_resource_state = 1; }
//   message PendingInstanceRequest { string instance_type_name = 1; string ray_node_type_name = 2;
//                                    int32 count = 3; int64 request_ts = 4; }
//   message FailedInstanceRequest { string instance_type_name = 1; string ray_node_type_name = 2;
//     int32 count = 3; string reason = 4; int64 start_ts = 5; int64 failed_ts = 6; }
//   message PendingInstance { string instance_type_name = 1; string ray_node_type_name = 2;
//     string instance_id = 3; string ip_address = 4; string details = 5; }
//   message AutoscalingState { int64 last_seen_cluster_resource_state_version = 1;
//     int64 autoscaler_state_version = 2; repeated PendingInstanceRequest pending_instance_requests = 3;
//     repeated ResourceRequest infeasible_resource_requests = 4;
//     repeated GangResourceRequest infeasible_gang_resource_requests = 5;
//     repeated ClusterResourceConstraint infeasible_cluster_resource_constraints = 6;
//     repeated PendingInstance pending_instances = 7; repeated FailedInstanceRequest failed_instance_requests = 8; }
//   message ReportAutoscalingStateRequest { AutoscalingState autoscaling_state = 1; }
//   message ReportAutoscalingStateReply {}
//   message GetClusterStatusRequest {}
//   message GetClusterStatusReply { AutoscalingState autoscaling_state = 1; ClusterResourceState cluster_resource_state = 2; }
//   message DrainNodeRequest { bytes node_id = 1; DrainNodeReason reason = 2; string reason_message = 3;
//                              int64 deadline_timestamp_ms = 4; }
//   message DrainNodeReply { bool is_accepted = 1; string rejection_reason_message = 2; }
//   // package ray.rpc (common.proto):
//   enum PlacementStrategy { PACK = 0; SPREAD = 1; STRICT_PACK = 2; STRICT_SPREAD = 3; }
//   message LabelSelectorConstraint { string label_key = 1; LabelSelectorOperator operator = 2;
//                                     repeated string label_values = 3; }
//   message LabelSelector { repeated LabelSelectorConstraint label_constraints = 1; }
//
//   service AutoscalerStateService {
//     rpc GetClusterResourceState(GetClusterResourceStateRequest) returns (GetClusterResourceStateReply);
//     rpc ReportAutoscalingState(ReportAutoscalingStateRequest) returns (ReportAutoscalingStateReply);
//     rpc GetClusterStatus(GetClusterStatusRequest) returns (GetClusterStatusReply);
//     rpc DrainNode(DrainNodeRequest) returns (DrainNodeReply);
//     ... (ReportClusterConfig, RequestClusterResourceConstraint, ResizeRayletResourceInstances: unused)
//   }
import type { MessageSchema } from "./protowire";

export const AUTOSCALER_PACKAGE = "ray.rpc.autoscaler";
export const AUTOSCALER_SERVICE = `${AUTOSCALER_PACKAGE}.AutoscalerStateService`;

/** ray.rpc.autoscaler.NodeStatus */
export const NodeStatusEnum = { UNSPECIFIED: 0, RUNNING: 1, DEAD: 2, IDLE: 3, DRAINING: 4 } as const;
/** ray.rpc.autoscaler.DrainNodeReason */
export const DrainNodeReasonEnum = {
  DRAIN_NODE_REASON_UNSPECIFIED: 0,
  DRAIN_NODE_REASON_IDLE_TERMINATION: 1,
  DRAIN_NODE_REASON_PREEMPTION: 2,
} as const;
/** ray.rpc.PlacementStrategy (common.proto) */
export const PlacementStrategyEnum = { PACK: 0, SPREAD: 1, STRICT_PACK: 2, STRICT_SPREAD: 3 } as const;

const p = (name: string) => `${AUTOSCALER_PACKAGE}.${name}`;

export const LabelSelectorConstraint: MessageSchema = {
  fullName: "ray.rpc.LabelSelectorConstraint",
  fields: [
    { no: 1, name: "label_key", type: "string" },
    { no: 2, name: "operator", type: "enum" },
    { no: 3, name: "label_values", type: "string", repeated: true },
  ],
};

export const LabelSelector: MessageSchema = {
  fullName: "ray.rpc.LabelSelector",
  fields: [{ no: 1, name: "label_constraints", type: { message: () => LabelSelectorConstraint }, repeated: true }],
};

export const AntiAffinityConstraint: MessageSchema = {
  fullName: p("AntiAffinityConstraint"),
  fields: [
    { no: 1, name: "label_name", type: "string" },
    { no: 2, name: "label_value", type: "string" },
  ],
};

export const AffinityConstraint: MessageSchema = {
  fullName: p("AffinityConstraint"),
  fields: [
    { no: 1, name: "label_name", type: "string" },
    { no: 2, name: "label_value", type: "string" },
  ],
};

export const PlacementConstraint: MessageSchema = {
  fullName: p("PlacementConstraint"),
  fields: [
    { no: 1, name: "anti_affinity", type: { message: () => AntiAffinityConstraint } },
    { no: 2, name: "affinity", type: { message: () => AffinityConstraint } },
  ],
};

export const ResourceRequest: MessageSchema = {
  fullName: p("ResourceRequest"),
  fields: [
    { no: 1, name: "resources_bundle", type: { map: ["string", "double"] } },
    { no: 2, name: "placement_constraints", type: { message: () => PlacementConstraint }, repeated: true },
    { no: 3, name: "label_selectors", type: { message: () => LabelSelector }, repeated: true },
  ],
};

export const ResourceRequestByCount: MessageSchema = {
  fullName: p("ResourceRequestByCount"),
  fields: [
    { no: 1, name: "request", type: { message: () => ResourceRequest } },
    { no: 2, name: "count", type: "int64" },
  ],
};

export const LocalityConstraint: MessageSchema = {
  fullName: p("LocalityConstraint"),
  fields: [
    { no: 1, name: "label_name", type: "string" },
    { no: 2, name: "placement_strategy", type: "enum" },
  ],
};

export const LocalityRequirement: MessageSchema = {
  fullName: p("LocalityRequirement"),
  fields: [
    { no: 1, name: "locality_constraint", type: { message: () => LocalityConstraint } },
    { no: 2, name: "label_selector", type: { message: () => LabelSelector } },
  ],
};

export const BundleSelector: MessageSchema = {
  fullName: p("BundleSelector"),
  fields: [
    { no: 1, name: "resource_requests", type: { message: () => ResourceRequest }, repeated: true },
    { no: 2, name: "locality_requirement", type: { message: () => LocalityRequirement } },
  ],
};

export const GangResourceRequest: MessageSchema = {
  fullName: p("GangResourceRequest"),
  fields: [
    { no: 1, name: "requests", type: { message: () => ResourceRequest }, repeated: true },
    { no: 2, name: "details", type: "string" },
    { no: 3, name: "bundle_selectors", type: { message: () => BundleSelector }, repeated: true },
  ],
};

export const ClusterResourceConstraint: MessageSchema = {
  fullName: p("ClusterResourceConstraint"),
  fields: [{ no: 1, name: "resource_requests", type: { message: () => ResourceRequestByCount }, repeated: true }],
};

export const NodeState: MessageSchema = {
  fullName: p("NodeState"),
  fields: [
    { no: 1, name: "node_id", type: "bytes" },
    { no: 2, name: "instance_id", type: "string" },
    { no: 3, name: "ray_node_type_name", type: "string" },
    { no: 4, name: "available_resources", type: { map: ["string", "double"] } },
    { no: 5, name: "total_resources", type: { map: ["string", "double"] } },
    { no: 6, name: "dynamic_labels", type: { map: ["string", "string"] } },
    { no: 7, name: "node_state_version", type: "int64" },
    { no: 8, name: "status", type: "enum" },
    { no: 9, name: "idle_duration_ms", type: "int64" },
    { no: 10, name: "node_ip_address", type: "string" },
    { no: 11, name: "instance_type_name", type: "string" },
    { no: 12, name: "node_activity", type: "string", repeated: true },
    { no: 13, name: "labels", type: { map: ["string", "string"] } },
  ],
};

export const GetClusterResourceStateRequest: MessageSchema = {
  fullName: p("GetClusterResourceStateRequest"),
  fields: [{ no: 1, name: "last_seen_cluster_resource_state_version", type: "int64" }],
};

export const ClusterResourceState: MessageSchema = {
  fullName: p("ClusterResourceState"),
  fields: [
    { no: 1, name: "cluster_resource_state_version", type: "int64" },
    { no: 2, name: "last_seen_autoscaler_state_version", type: "int64" },
    { no: 3, name: "node_states", type: { message: () => NodeState }, repeated: true },
    { no: 4, name: "pending_resource_requests", type: { message: () => ResourceRequestByCount }, repeated: true },
    { no: 5, name: "pending_gang_resource_requests", type: { message: () => GangResourceRequest }, repeated: true },
    { no: 6, name: "cluster_resource_constraints", type: { message: () => ClusterResourceConstraint }, repeated: true },
    { no: 7, name: "cluster_session_name", type: "string" },
  ],
};

export const GetClusterResourceStateReply: MessageSchema = {
  fullName: p("GetClusterResourceStateReply"),
  fields: [{ no: 1, name: "cluster_resource_state", type: { message: () => ClusterResourceState } }],
};

export const PendingInstanceRequest: MessageSchema = {
  fullName: p("PendingInstanceRequest"),
  fields: [
    { no: 1, name: "instance_type_name", type: "string" },
    { no: 2, name: "ray_node_type_name", type: "string" },
    { no: 3, name: "count", type: "int32" },
    { no: 4, name: "request_ts", type: "int64" },
  ],
};

export const FailedInstanceRequest: MessageSchema = {
  fullName: p("FailedInstanceRequest"),
  fields: [
    { no: 1, name: "instance_type_name", type: "string" },
    { no: 2, name: "ray_node_type_name", type: "string" },
    { no: 3, name: "count", type: "int32" },
    { no: 4, name: "reason", type: "string" },
    { no: 5, name: "start_ts", type: "int64" },
    { no: 6, name: "failed_ts", type: "int64" },
  ],
};

export const PendingInstance: MessageSchema = {
  fullName: p("PendingInstance"),
  fields: [
    { no: 1, name: "instance_type_name", type: "string" },
    { no: 2, name: "ray_node_type_name", type: "string" },
    { no: 3, name: "instance_id", type: "string" },
    { no: 4, name: "ip_address", type: "string" },
    { no: 5, name: "details", type: "string" },
  ],
};

export const AutoscalingState: MessageSchema = {
  fullName: p("AutoscalingState"),
  fields: [
    { no: 1, name: "last_seen_cluster_resource_state_version", type: "int64" },
    { no: 2, name: "autoscaler_state_version", type: "int64" },
    { no: 3, name: "pending_instance_requests", type: { message: () => PendingInstanceRequest }, repeated: true },
    { no: 4, name: "infeasible_resource_requests", type: { message: () => ResourceRequest }, repeated: true },
    { no: 5, name: "infeasible_gang_resource_requests", type: { message: () => GangResourceRequest }, repeated: true },
    {
      no: 6,
      name: "infeasible_cluster_resource_constraints",
      type: { message: () => ClusterResourceConstraint },
      repeated: true,
    },
    { no: 7, name: "pending_instances", type: { message: () => PendingInstance }, repeated: true },
    { no: 8, name: "failed_instance_requests", type: { message: () => FailedInstanceRequest }, repeated: true },
  ],
};

export const ReportAutoscalingStateRequest: MessageSchema = {
  fullName: p("ReportAutoscalingStateRequest"),
  fields: [{ no: 1, name: "autoscaling_state", type: { message: () => AutoscalingState } }],
};

export const ReportAutoscalingStateReply: MessageSchema = { fullName: p("ReportAutoscalingStateReply"), fields: [] };

export const GetClusterStatusRequest: MessageSchema = { fullName: p("GetClusterStatusRequest"), fields: [] };

export const GetClusterStatusReply: MessageSchema = {
  fullName: p("GetClusterStatusReply"),
  fields: [
    { no: 1, name: "autoscaling_state", type: { message: () => AutoscalingState } },
    { no: 2, name: "cluster_resource_state", type: { message: () => ClusterResourceState } },
  ],
};

export const DrainNodeRequest: MessageSchema = {
  fullName: p("DrainNodeRequest"),
  fields: [
    { no: 1, name: "node_id", type: "bytes" },
    { no: 2, name: "reason", type: "enum" },
    { no: 3, name: "reason_message", type: "string" },
    { no: 4, name: "deadline_timestamp_ms", type: "int64" },
  ],
};

export const DrainNodeReply: MessageSchema = {
  fullName: p("DrainNodeReply"),
  fields: [
    { no: 1, name: "is_accepted", type: "bool" },
    { no: 2, name: "rejection_reason_message", type: "string" },
  ],
};

/** Every schema above, for the descriptor comparison test. */
export const ALL_SCHEMAS: MessageSchema[] = [
  LabelSelectorConstraint,
  LabelSelector,
  AntiAffinityConstraint,
  AffinityConstraint,
  PlacementConstraint,
  ResourceRequest,
  ResourceRequestByCount,
  LocalityConstraint,
  LocalityRequirement,
  BundleSelector,
  GangResourceRequest,
  ClusterResourceConstraint,
  NodeState,
  GetClusterResourceStateRequest,
  ClusterResourceState,
  GetClusterResourceStateReply,
  PendingInstanceRequest,
  FailedInstanceRequest,
  PendingInstance,
  AutoscalingState,
  ReportAutoscalingStateRequest,
  ReportAutoscalingStateReply,
  GetClusterStatusRequest,
  GetClusterStatusReply,
  DrainNodeRequest,
  DrainNodeReply,
];
