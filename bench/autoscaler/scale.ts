// The recorded state of a real Ray head (bench/autoscaler/recorded/, written by record.ts), scaled up
// to the size the autoscaler pass is measured at: the recorded nodes cloned to 1,000 and the
// recorded demand to 10,000 pending requests. Everything is done on Ray's own messages, decoded with
// the generated types and encoded again: every field Ray sent stays, in Ray's shape; only what must
// differ between two nodes (node id, instance id = pod name, IP and the `node:<ip>` resource, labels
// naming them) or two placement groups (their id) is rewritten.
import { createHash } from "crypto";
import { readFileSync } from "fs";
import { join } from "path";
import { clone, fromBinary, fromJsonString, toBinary, toJsonString } from "@bufbuild/protobuf";
import {
  DrainNodeReplySchema,
  GangResourceRequest,
  GangResourceRequestSchema,
  GetClusterResourceStateReply,
  GetClusterResourceStateReplySchema,
  NodeState,
  NodeStateSchema,
  NodeStatus,
  ReportAutoscalingStateReplySchema,
  ResourceRequestByCount,
  ResourceRequestByCountSchema,
} from "../../operator/autoscaler/gen/src/ray/protobuf/autoscaler_pb";
import { HEAD_MARKER_RESOURCE } from "../../operator/autoscaler/gcs-input";
import { podName } from "./pass-cluster";

export const RECORDED_DIR = join(__dirname, "recorded");

/** The files record.ts writes: each the binary protobuf of one reply, as the GCS sent it. */
export const RECORDED_FILES = {
  state: "GetClusterResourceStateReply.bin",
  report: "ReportAutoscalingStateReply.bin",
  drainAccepted: "DrainNodeReply.accepted.bin",
  drainRejected: "DrainNodeReply.rejected.bin",
} as const;

/** The recorded replies, decoded (the state) or as sent (the others, served again byte for byte). */
export interface Recording {
  state: GetClusterResourceStateReply;
  reportReply: Uint8Array;
  drainAccepted: Uint8Array;
  drainRejected: Uint8Array;
}

export function readRecording(dir = RECORDED_DIR): Recording {
  const read = (file: string) => new Uint8Array(readFileSync(join(dir, file)));
  const recording = {
    state: fromBinary(GetClusterResourceStateReplySchema, read(RECORDED_FILES.state)),
    reportReply: read(RECORDED_FILES.report),
    drainAccepted: read(RECORDED_FILES.drainAccepted),
    drainRejected: read(RECORDED_FILES.drainRejected),
  };
  // The other replies must be what their names say (a recording mixed up would serve nonsense).
  fromBinary(ReportAutoscalingStateReplySchema, recording.reportReply);
  if (!fromBinary(DrainNodeReplySchema, recording.drainAccepted).isAccepted)
    throw new Error(`${RECORDED_FILES.drainAccepted}: not an accepted drain`);
  if (fromBinary(DrainNodeReplySchema, recording.drainRejected).isAccepted)
    throw new Error(`${RECORDED_FILES.drainRejected}: not a rejected drain`);
  return recording;
}

/** A pod of the scaled cluster and the Ray node it runs. */
export interface ScaledPod {
  name: string;
  type: string;
  kind: "head" | "worker";
}

export interface ScaledCluster {
  name: string;
  /** The GetClusterResourceStateReply the fake GCS serves for this cluster. */
  reply: GetClusterResourceStateReply;
  /** One pod per Ray node, named as the node's instance id. */
  pods: ScaledPod[];
  /** Pending requests: tasks and actors by count, plus placement group bundles. */
  demands: number;
  placementGroups: number;
}

/** Placement group bundles among the demands (the rest are tasks and actors), as in the scheduler bench. */
const GANG_SHARE = 0.2;

const sha = (text: string) => createHash("sha256").update(text).digest();
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

/** An IPv4 address per node index, in a /16 of its own (10.x.y.z, never 127.0.0.1 as recorded). */
function nodeIp(index: number): string {
  return `10.${200 + ((index >> 16) & 31)}.${(index >> 8) & 255}.${index & 255}`;
}

function isHead(n: NodeState): boolean {
  return HEAD_MARKER_RESOURCE in n.totalResources;
}

/** `text` with every occurrence of each key of `renames` replaced by its value. */
function renamed(text: string, renames: Map<string, string>): string {
  let out = text;
  for (const [from, to] of renames) if (from) out = out.split(from).join(to);
  return out;
}

const renamedKeys = (map: Record<string, number>, renames: Map<string, string>) =>
  Object.fromEntries(Object.entries(map).map(([k, v]) => [renamed(k, renames), v]));
const renamedValues = (map: Record<string, string>, renames: Map<string, string>) =>
  Object.fromEntries(Object.entries(map).map(([k, v]) => [k, renamed(v, renames)]));

/** A recorded node as another node: its own id (28 bytes, as Ray's), pod name and IP. */
function cloneNode(template: NodeState, cluster: string, instanceId: string, index: number): NodeState {
  const nodeId = sha(`${cluster}/${instanceId}`).subarray(0, template.nodeId.length || 28);
  const ip = nodeIp(index);
  const renames = new Map([
    [hex(template.nodeId), hex(nodeId)],
    [template.instanceId, instanceId],
    [template.nodeIpAddress, ip],
  ]);
  const node = clone(NodeStateSchema, template);
  node.nodeId = new Uint8Array(nodeId);
  node.instanceId = instanceId;
  node.nodeIpAddress = ip;
  node.totalResources = renamedKeys(template.totalResources, renames);
  node.availableResources = renamedKeys(template.availableResources, renames);
  node.labels = renamedValues(template.labels, renames);
  node.dynamicLabels = renamedValues(template.dynamicLabels, renames);
  node.nodeActivity = template.nodeActivity.map((line) => renamed(line, renames));
  return node;
}

/** The placement group id a gang request carries (its details start `<id hex>:<strategy>|<state>`). */
function groupId(gang: GangResourceRequest): string {
  const id = /^([0-9a-f]+):/.exec(gang.details)?.[1];
  if (!id) throw new Error(`a recorded gang request without a placement group id: ${gang.details}`);
  return id;
}

/** A recorded placement group as another one: its id rewritten wherever the GCS wrote it. */
function cloneGang(template: GangResourceRequest, index: number): GangResourceRequest {
  const id = groupId(template);
  const newId = sha(`placement-group/${index}`).toString("hex").slice(0, id.length);
  const json = toJsonString(GangResourceRequestSchema, template);
  return fromJsonString(GangResourceRequestSchema, json.split(id).join(newId));
}

/** Splits `total` over `weights` in proportion, exactly (largest remainders get the rest). */
function apportion(total: number, weights: number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  const exact = weights.map((w) => (sum > 0 ? (total * w) / sum : 0));
  const out = exact.map(Math.floor);
  const order = exact.map((x, i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0]);
  for (let left = total - out.reduce((a, b) => a + b, 0), k = 0; left > 0; left--, k++) out[order[k][1]]++;
  return out;
}

/** The recorded nodes that are cloned: the head, and the workers Ray still runs. */
function recordedNodes(recording: Recording): { head: NodeState; workers: NodeState[] } {
  const live = (recording.state.clusterResourceState?.nodeStates ?? []).filter((n) => n.status !== NodeStatus.DEAD);
  const head = live.find(isHead);
  const workers = live.filter((n) => !isHead(n));
  if (!head || workers.length === 0) throw new Error("the recording needs a head and at least one worker");
  return { head, workers };
}

/**
 * The pods of cluster `cluster` at `nodes` Ray nodes: the recorded head, then the recorded workers
 * in turn (so the recorded mix of types, and of busy and idle nodes, holds at any size). Each pod's
 * `template` is the index of the recorded node it clones (0: the head, 1...: the workers).
 */
export function scaledPods(recording: Recording, cluster: string, nodes: number): (ScaledPod & { template: number })[] {
  const { head, workers } = recordedNodes(recording);
  const headPod = { name: podName(cluster, head.rayNodeTypeName, "head", 0), type: head.rayNodeTypeName };
  const pods: (ScaledPod & { template: number })[] = [{ ...headPod, kind: "head", template: 0 }];
  for (let i = 1; i < nodes; i++) {
    const template = (i - 1) % workers.length;
    const type = workers[template].rayNodeTypeName;
    pods.push({ name: podName(cluster, type, "worker", i), type, kind: "worker", template: template + 1 });
  }
  return pods;
}

/** The scaled-up demand: the same for every cluster (placement group ids only need be unique in one). */
interface ScaledDemand {
  gangs: GangResourceRequest[];
  byShape: ResourceRequestByCount[];
}

const demandCache = new WeakMap<Recording, Map<number, ScaledDemand>>();

/**
 * `demands` pending requests from the recorded ones: the recorded placement groups cloned until they
 * hold ~20% of them as bundles, the rest spread over the recorded task and actor shapes in the
 * recorded proportions (the GCS reports those aggregated by shape, with a count).
 */
function scaledDemand(recording: Recording, demands: number): ScaledDemand {
  const cached = demandCache.get(recording)?.get(demands);
  if (cached) return cached;
  const recorded = recording.state.clusterResourceState!;
  const gangs: GangResourceRequest[] = [];
  let bundles = 0;
  const bundlesOf = (g: GangResourceRequest) => (g.bundleSelectors[0]?.resourceRequests ?? g.requests).length;
  const recordedGangs = recorded.pendingGangResourceRequests;
  while (recordedGangs.length > 0 && bundles < demands * GANG_SHARE) {
    const gang = cloneGang(recordedGangs[gangs.length % recordedGangs.length], gangs.length);
    gangs.push(gang);
    bundles += bundlesOf(gang);
  }
  const byShape = recorded.pendingResourceRequests.map((r) => clone(ResourceRequestByCountSchema, r));
  const counts = apportion(
    Math.max(0, demands - bundles),
    byShape.map((r) => Number(r.count)),
  );
  byShape.forEach((r, i) => (r.count = BigInt(counts[i])));
  const demand = { gangs, byShape: byShape.filter((r) => r.count > 0n) };
  if (!demandCache.has(recording)) demandCache.set(recording, new Map());
  demandCache.get(recording)!.set(demands, demand);
  return demand;
}

/**
 * The recorded state as cluster `cluster` with `nodes` Ray nodes (scaledPods: one per pod) and
 * `demands` pending requests (scaledDemand). request_resources() stays as recorded.
 */
export function scaledCluster(recording: Recording, cluster: string, nodes: number, demands: number): ScaledCluster {
  const { head, workers } = recordedNodes(recording);
  const templates = [head, ...workers];
  const pods = scaledPods(recording, cluster, nodes);
  const demand = scaledDemand(recording, demands);
  const reply = clone(GetClusterResourceStateReplySchema, recording.state);
  const state = reply.clusterResourceState!;
  state.nodeStates = pods.map((p, i) => cloneNode(templates[p.template], cluster, p.name, i));
  state.pendingGangResourceRequests = demand.gangs;
  state.pendingResourceRequests = demand.byShape;
  return {
    name: cluster,
    reply,
    pods: pods.map(({ name, type, kind }) => ({ name, type, kind })),
    demands,
    placementGroups: demand.gangs.length,
  };
}
