// The GCS's reply to GetClusterResourceState, decoded straight from the wire into the typed state the
// autoscaler works with (gcs-client.ts's ClusterResourceState). It gives exactly what
// `toClusterResourceState(fromBinary(GetClusterResourceStateReplySchema, bytes).clusterResourceState)`
// gives (test/unit/autoscaler-gcs-decode.test.ts holds it to that, on Ray's own recorded reply and on
// random messages), without building the generated message first: for a cluster of 1,000 nodes that
// message is ~10,000 objects made, zero-filled and then copied, and decoding it was the largest part of
// an autoscaler pass after the scheduler's own (bench/autoscaler/pass.ts).
//
// The generated code stays the source of truth for the protocol: every field number is read from the
// generated descriptors when this module loads, with the field's kind, so a Ray bump that renumbers a
// field is followed and one that changes a field's type fails at load, naming the field. Fields this
// decoder does not read (none of the typed state's) are skipped, as unknown fields are. Protobuf's
// rules are kept: the last value of a scalar wins, repeated fields append, map entries overwrite by
// key (missing key or value: the zero value), a singular message seen twice is merged. One difference
// in what is accepted: a string that is not valid UTF-8 reads with U+FFFD where the generated decoder
// would refuse the reply.
import { fromBinary, ScalarType } from "@bufbuild/protobuf";
import type { DescMessage } from "@bufbuild/protobuf";
import * as autoscalerPb from "./gen/src/ray/protobuf/autoscaler_pb";
import { LabelSelectorSchema } from "./gen/src/ray/protobuf/common_pb";
import { gangStrategy, nodeStatusName } from "./gcs-state";
import type {
  ClusterResourceState,
  GangRequestInfo,
  PlacementConstraintInfo,
  RayNodeState,
  ResourceRequestByCountInfo,
  ResourceRequestInfo,
} from "./gcs-state";

// ---------------------------------------------------------------------------------------------
// Field numbers, from the generated descriptors
// ---------------------------------------------------------------------------------------------

type Kind = "string" | "bytes" | "int64" | "double" | "enum" | "message" | "strings" | "messages" | "map";

/** The number of a field of `schema`, after checking that the field is still of the kind read here. */
function fieldNumber(schema: DescMessage, localName: string, kind: Kind): number {
  const f = schema.field[localName];
  const is = (() => {
    if (!f) return false;
    switch (kind) {
      case "string":
        return f.fieldKind === "scalar" && f.scalar === ScalarType.STRING;
      case "bytes":
        return f.fieldKind === "scalar" && f.scalar === ScalarType.BYTES;
      case "int64":
        return f.fieldKind === "scalar" && f.scalar === ScalarType.INT64;
      case "double":
        return f.fieldKind === "scalar" && f.scalar === ScalarType.DOUBLE;
      case "enum":
        return f.fieldKind === "enum";
      case "message":
        return f.fieldKind === "message" && !f.delimitedEncoding;
      case "strings":
        return f.fieldKind === "list" && f.listKind === "scalar" && f.scalar === ScalarType.STRING;
      case "messages":
        return f.fieldKind === "list" && f.listKind === "message" && !f.delimitedEncoding;
      case "map":
        return f.fieldKind === "map" && f.mapKey === ScalarType.STRING && f.mapKind === "scalar";
    }
  })();
  if (!f || !is)
    throw new Error(`gcs-decode: ${schema.typeName}.${localName} is no longer a ${kind} field; update the decoder`);
  return f.number;
}

/** A map<string, V> field, with the number of its value type checked too. */
function mapField(schema: DescMessage, localName: string, value: ScalarType.STRING | ScalarType.DOUBLE): number {
  const number = fieldNumber(schema, localName, "map");
  const f = schema.field[localName];
  if (f.fieldKind !== "map" || f.scalar !== value)
    throw new Error(`gcs-decode: ${schema.typeName}.${localName} changed its value type; update the decoder`);
  return number;
}

const REPLY = {
  clusterResourceState: fieldNumber(autoscalerPb.GetClusterResourceStateReplySchema, "clusterResourceState", "message"),
};
const STATE = {
  version: fieldNumber(autoscalerPb.ClusterResourceStateSchema, "clusterResourceStateVersion", "int64"),
  lastSeen: fieldNumber(autoscalerPb.ClusterResourceStateSchema, "lastSeenAutoscalerStateVersion", "int64"),
  nodes: fieldNumber(autoscalerPb.ClusterResourceStateSchema, "nodeStates", "messages"),
  pending: fieldNumber(autoscalerPb.ClusterResourceStateSchema, "pendingResourceRequests", "messages"),
  gangs: fieldNumber(autoscalerPb.ClusterResourceStateSchema, "pendingGangResourceRequests", "messages"),
  constraints: fieldNumber(autoscalerPb.ClusterResourceStateSchema, "clusterResourceConstraints", "messages"),
  session: fieldNumber(autoscalerPb.ClusterResourceStateSchema, "clusterSessionName", "string"),
};
const NODE = {
  nodeId: fieldNumber(autoscalerPb.NodeStateSchema, "nodeId", "bytes"),
  instanceId: fieldNumber(autoscalerPb.NodeStateSchema, "instanceId", "string"),
  rayNodeTypeName: fieldNumber(autoscalerPb.NodeStateSchema, "rayNodeTypeName", "string"),
  available: mapField(autoscalerPb.NodeStateSchema, "availableResources", ScalarType.DOUBLE),
  total: mapField(autoscalerPb.NodeStateSchema, "totalResources", ScalarType.DOUBLE),
  dynamicLabels: mapField(autoscalerPb.NodeStateSchema, "dynamicLabels", ScalarType.STRING),
  version: fieldNumber(autoscalerPb.NodeStateSchema, "nodeStateVersion", "int64"),
  status: fieldNumber(autoscalerPb.NodeStateSchema, "status", "enum"),
  idle: fieldNumber(autoscalerPb.NodeStateSchema, "idleDurationMs", "int64"),
  ip: fieldNumber(autoscalerPb.NodeStateSchema, "nodeIpAddress", "string"),
  instanceTypeName: fieldNumber(autoscalerPb.NodeStateSchema, "instanceTypeName", "string"),
  activity: fieldNumber(autoscalerPb.NodeStateSchema, "nodeActivity", "strings"),
  labels: mapField(autoscalerPb.NodeStateSchema, "labels", ScalarType.STRING),
};
const BY_COUNT = {
  request: fieldNumber(autoscalerPb.ResourceRequestByCountSchema, "request", "message"),
  count: fieldNumber(autoscalerPb.ResourceRequestByCountSchema, "count", "int64"),
};
const REQUEST = {
  resources: mapField(autoscalerPb.ResourceRequestSchema, "resourcesBundle", ScalarType.DOUBLE),
  constraints: fieldNumber(autoscalerPb.ResourceRequestSchema, "placementConstraints", "messages"),
  labelSelectors: fieldNumber(autoscalerPb.ResourceRequestSchema, "labelSelectors", "messages"),
};
const PLACEMENT = {
  antiAffinity: fieldNumber(autoscalerPb.PlacementConstraintSchema, "antiAffinity", "message"),
  affinity: fieldNumber(autoscalerPb.PlacementConstraintSchema, "affinity", "message"),
};
const ANTI_AFFINITY = {
  name: fieldNumber(autoscalerPb.AntiAffinityConstraintSchema, "labelName", "string"),
  value: fieldNumber(autoscalerPb.AntiAffinityConstraintSchema, "labelValue", "string"),
};
const AFFINITY = {
  name: fieldNumber(autoscalerPb.AffinityConstraintSchema, "labelName", "string"),
  value: fieldNumber(autoscalerPb.AffinityConstraintSchema, "labelValue", "string"),
};
const GANG = {
  requests: fieldNumber(autoscalerPb.GangResourceRequestSchema, "requests", "messages"),
  details: fieldNumber(autoscalerPb.GangResourceRequestSchema, "details", "string"),
  selectors: fieldNumber(autoscalerPb.GangResourceRequestSchema, "bundleSelectors", "messages"),
};
const SELECTOR = {
  requests: fieldNumber(autoscalerPb.BundleSelectorSchema, "resourceRequests", "messages"),
};
const CONSTRAINT = {
  requests: fieldNumber(autoscalerPb.ClusterResourceConstraintSchema, "resourceRequests", "messages"),
};

// ---------------------------------------------------------------------------------------------
// The wire
// ---------------------------------------------------------------------------------------------

const VARINT = 0;
const FIXED64 = 1;
const LENGTH_DELIMITED = 2;
const START_GROUP = 3;
const END_GROUP = 4;
const FIXED32 = 5;

const RECURRING_MAX_BYTES = 64;
const RECURRING_MAX_ENTRIES = 8192;
/** Strings read with WireReader.recurring, by the hash of their bytes. */
const recurringStrings = new Map<number, string>();

/** Reads protobuf's wire format from a Buffer (Node's own UTF-8 and float decoding). */
class WireReader {
  pos = 0;
  constructor(private readonly buf: Buffer) {}

  private byte(): number {
    if (this.pos >= this.buf.length) throw new Error("gcs-decode: premature end of the reply");
    return this.buf[this.pos++];
  }

  /** A varint's low 32 bits, unsigned (tags and lengths). */
  uint32(): number {
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = this.byte();
      if (shift < 28) value |= (b & 0x7f) << shift;
      else value |= (b & 0x0f) << 28;
      if (b < 0x80) return value >>> 0;
    }
    // Up to 10 bytes: the rest of a 64-bit varint, beyond 32 bits.
    for (let i = 5; i < 10; i++) if (this.byte() < 0x80) return value >>> 0;
    throw new Error("gcs-decode: invalid varint");
  }

  /** An int64 varint as a number (as Number() of the bigint the generated code reads). */
  int64(): number {
    let lo = 0;
    let hi = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      const b = this.byte();
      lo |= (b & 0x7f) << shift;
      if (b < 0x80) return lo >>> 0;
    }
    let b = this.byte();
    lo |= (b & 0x0f) << 28;
    hi = (b & 0x7f) >> 4;
    if (b < 0x80) return (hi | 0) * 4294967296 + (lo >>> 0);
    for (let shift = 3; shift < 32; shift += 7) {
      b = this.byte();
      hi |= (b & 0x7f) << shift;
      if (b < 0x80) return (hi | 0) * 4294967296 + (lo >>> 0);
    }
    throw new Error("gcs-decode: invalid varint");
  }

  /** An int32 or enum varint (its low 32 bits, signed). */
  int32(): number {
    return this.uint32() | 0;
  }

  double(): number {
    const at = this.pos;
    this.pos += 8;
    if (this.pos > this.buf.length) throw new Error("gcs-decode: premature end of the reply");
    return this.buf.readDoubleLE(at);
  }

  /** Reads a length and returns where the length-delimited field ends. */
  end(): number {
    const length = this.uint32();
    const end = this.pos + length;
    if (end > this.buf.length) throw new Error("gcs-decode: premature end of the reply");
    return end;
  }

  string(): string {
    const end = this.end();
    const text = this.buf.toString("utf8", this.pos, end);
    this.pos = end;
    return text;
  }

  /**
   * A string that recurs from node to node and pass to pass (resource names, label keys, node types,
   * activity lines): the same string object as the last time these bytes were read, when they were.
   * 1,000 nodes carry ~15,000 such strings per reply; making each anew (and V8 then looking each up
   * again to use it as a property name) was a good part of decoding, and of the garbage it left.
   */
  recurring(): string {
    const end = this.end();
    const start = this.pos;
    this.pos = end;
    const buf = this.buf;
    if (end - start > RECURRING_MAX_BYTES) return buf.toString("utf8", start, end);
    // FNV-1a over the bytes; ASCII only (a cached string is compared char by char with the bytes).
    let hash = 0x811c9dc5;
    for (let i = start; i < end; i++) {
      const b = buf[i];
      if (b > 0x7f) return buf.toString("utf8", start, end);
      hash = Math.imul(hash ^ b, 0x01000193);
    }
    const cached = recurringStrings.get(hash);
    if (cached !== undefined && cached.length === end - start) {
      let i = 0;
      while (i < cached.length && cached.charCodeAt(i) === buf[start + i]) i++;
      if (i === cached.length) return cached;
    }
    const text = buf.toString("latin1", start, end);
    // Bounded: names that do not recur (each node's own `node:<ip>`) fill it, and it starts over.
    if (recurringStrings.size >= RECURRING_MAX_ENTRIES) recurringStrings.clear();
    recurringStrings.set(hash, text);
    return text;
  }

  hex(): string {
    const end = this.end();
    const text = this.buf.toString("hex", this.pos, end);
    this.pos = end;
    return text;
  }

  /** The bytes of a length-delimited field, as a view (no copy). */
  bytes(): Uint8Array {
    const end = this.end();
    const view = this.buf.subarray(this.pos, end);
    this.pos = end;
    return view;
  }

  skip(wireType: number, fieldNo: number): void {
    switch (wireType) {
      case VARINT:
        while (this.byte() >= 0x80);
        return;
      case FIXED64:
        this.pos += 8;
        break;
      case LENGTH_DELIMITED:
        this.pos = this.end();
        return;
      case FIXED32:
        this.pos += 4;
        break;
      case START_GROUP:
        for (;;) {
          const tag = this.uint32();
          if ((tag & 7) === END_GROUP) {
            if (tag >>> 3 !== fieldNo) throw new Error("gcs-decode: invalid end group tag");
            return;
          }
          this.skip(tag & 7, tag >>> 3);
        }
      default:
        throw new Error(`gcs-decode: unexpected wire type ${wireType}`);
    }
    if (this.pos > this.buf.length) throw new Error("gcs-decode: premature end of the reply");
  }

  /** The wire type of the field last read by field(). */
  private wireType = 0;
  private fieldNo = 0;

  /** Reads the next field's tag; returns its number (its wire type is kept for expect and skipField). */
  field(): number {
    const tag = this.uint32();
    this.wireType = tag & 7;
    this.fieldNo = tag >>> 3;
    return this.fieldNo;
  }

  /** Checks that the field comes with the wire type its type has (a mismatch is not guessed at); `this`. */
  expect(wireType: number, what: string): this {
    if (this.wireType !== wireType) throw new Error(`gcs-decode: ${what} came with wire type ${this.wireType}`);
    return this;
  }

  skipField(): void {
    this.skip(this.wireType, this.fieldNo);
  }

  /** Checks that the message read ends where its length said. */
  done(end: number): void {
    if (this.pos !== end) throw new Error("gcs-decode: a field runs past the end of its message");
  }
}

// Each message is read by a loop of its own over its fields (no callback per message: a reply has
// tens of thousands of them, map entries included). `r.field()` reads the next tag; a field the
// loop does not know is skipped; `r.done(end)` checks the message ended where its length said.

/** One map<string, double> entry into `map` (key 1, value 2; "" and 0 when absent). */
function readNumberEntry(r: WireReader, map: Record<string, number>): void {
  const end = r.end();
  let key = "";
  let value = 0;
  while (r.pos < end) {
    const no = r.field();
    if (no === 1) key = r.expect(LENGTH_DELIMITED, "a map key").recurring();
    else if (no === 2) value = r.expect(FIXED64, "a map value").double();
    else r.skipField();
  }
  r.done(end);
  map[key] = value;
}

/** One map<string, string> entry into `map`. */
function readStringEntry(r: WireReader, map: Record<string, string>): void {
  const end = r.end();
  let key = "";
  let value = "";
  while (r.pos < end) {
    const no = r.field();
    if (no === 1) key = r.expect(LENGTH_DELIMITED, "a map key").recurring();
    else if (no === 2) value = r.expect(LENGTH_DELIMITED, "a map value").string();
    else r.skipField();
  }
  r.done(end);
  map[key] = value;
}

// ---------------------------------------------------------------------------------------------
// The messages
// ---------------------------------------------------------------------------------------------

type LabelPair = { labelName: string; labelValue: string };

/** An (Anti)AffinityConstraint into `into` (merged when the constraint is seen twice). */
function readLabelPair(r: WireReader, into: LabelPair, numbers: typeof AFFINITY): LabelPair {
  const end = r.end();
  while (r.pos < end) {
    const no = r.field();
    if (no === numbers.name) into.labelName = r.expect(LENGTH_DELIMITED, "a label name").string();
    else if (no === numbers.value) into.labelValue = r.expect(LENGTH_DELIMITED, "a label value").string();
    else r.skipField();
  }
  r.done(end);
  return into;
}

function readPlacementConstraint(r: WireReader): PlacementConstraintInfo {
  let antiAffinity: LabelPair | undefined;
  let affinity: LabelPair | undefined;
  const end = r.end();
  while (r.pos < end) {
    const no = r.field();
    if (no === PLACEMENT.antiAffinity) {
      r.expect(LENGTH_DELIMITED, "an anti-affinity constraint");
      antiAffinity = readLabelPair(r, antiAffinity ?? { labelName: "", labelValue: "" }, ANTI_AFFINITY);
    } else if (no === PLACEMENT.affinity) {
      r.expect(LENGTH_DELIMITED, "an affinity constraint");
      affinity = readLabelPair(r, affinity ?? { labelName: "", labelValue: "" }, AFFINITY);
    } else r.skipField();
  }
  r.done(end);
  const info: PlacementConstraintInfo = {};
  if (antiAffinity) info.antiAffinity = antiAffinity;
  if (affinity) info.affinity = affinity;
  return info;
}

const emptyRequest = (): ResourceRequestInfo => ({ resources: {}, placementConstraints: [], labelSelectors: [] });

/** A ResourceRequest into `into` (a request seen twice in one message is merged). */
function readRequest(r: WireReader, into: ResourceRequestInfo): ResourceRequestInfo {
  const end = r.end();
  while (r.pos < end) {
    const no = r.field();
    if (no === REQUEST.resources) readNumberEntry(r.expect(LENGTH_DELIMITED, "resources"), into.resources);
    else if (no === REQUEST.constraints)
      into.placementConstraints.push(readPlacementConstraint(r.expect(LENGTH_DELIMITED, "a constraint")));
    else if (no === REQUEST.labelSelectors)
      // Rare, and kept as the generated message in the typed state: the generated decoder reads it.
      into.labelSelectors.push(fromBinary(LabelSelectorSchema, r.expect(LENGTH_DELIMITED, "a label selector").bytes()));
    else r.skipField();
  }
  r.done(end);
  return into;
}

function readByCount(r: WireReader): ResourceRequestByCountInfo {
  let request: ResourceRequestInfo | undefined;
  let count = 0;
  const end = r.end();
  while (r.pos < end) {
    const no = r.field();
    if (no === BY_COUNT.request)
      request = readRequest(r.expect(LENGTH_DELIMITED, "a resource request"), request ?? emptyRequest());
    else if (no === BY_COUNT.count) count = r.expect(VARINT, "a request count").int64();
    else r.skipField();
  }
  r.done(end);
  return { request: request ?? emptyRequest(), count };
}

/** A list of ResourceRequestByCount (ClusterResourceConstraint: resource_requests). */
function readConstraint(r: WireReader): ResourceRequestByCountInfo[] {
  const requests: ResourceRequestByCountInfo[] = [];
  const end = r.end();
  while (r.pos < end) {
    if (r.field() === CONSTRAINT.requests) requests.push(readByCount(r.expect(LENGTH_DELIMITED, "a request")));
    else r.skipField();
  }
  r.done(end);
  return requests;
}

/** A BundleSelector's resource requests. */
function readSelector(r: WireReader): ResourceRequestInfo[] {
  const requests: ResourceRequestInfo[] = [];
  const end = r.end();
  while (r.pos < end) {
    if (r.field() === SELECTOR.requests)
      requests.push(readRequest(r.expect(LENGTH_DELIMITED, "a selector's request"), emptyRequest()));
    else r.skipField();
  }
  r.done(end);
  return requests;
}

function readGang(r: WireReader): GangRequestInfo {
  const requests: ResourceRequestInfo[] = [];
  const selectors: ResourceRequestInfo[][] = [];
  let details = "";
  const end = r.end();
  while (r.pos < end) {
    const no = r.field();
    if (no === GANG.requests) requests.push(readRequest(r.expect(LENGTH_DELIMITED, "a gang request"), emptyRequest()));
    else if (no === GANG.details) details = r.expect(LENGTH_DELIMITED, "gang details").string();
    else if (no === GANG.selectors) selectors.push(readSelector(r.expect(LENGTH_DELIMITED, "a bundle selector")));
    else r.skipField();
  }
  r.done(end);
  // As gcs-client's toGang: the first bundle selector, when there is one, over `requests`.
  const bundles = selectors.length > 0 ? selectors[0] : requests;
  return { bundles, details, strategy: gangStrategy(bundles, details) };
}

function readNode(r: WireReader): RayNodeState {
  const node: RayNodeState = {
    nodeId: "",
    instanceId: "",
    rayNodeTypeName: "",
    instanceTypeName: "",
    nodeIpAddress: "",
    status: "UNSPECIFIED",
    totalResources: {},
    availableResources: {},
    idleDurationMs: 0,
    nodeActivity: [],
    labels: {},
    dynamicLabels: {},
    nodeStateVersion: 0,
  };
  let status = 0;
  const LD = LENGTH_DELIMITED;
  const end = r.end();
  while (r.pos < end) {
    switch (r.field()) {
      case NODE.total:
        readNumberEntry(r.expect(LD, "total resources"), node.totalResources);
        break;
      case NODE.available:
        readNumberEntry(r.expect(LD, "available resources"), node.availableResources);
        break;
      case NODE.labels:
        readStringEntry(r.expect(LD, "labels"), node.labels);
        break;
      case NODE.dynamicLabels:
        readStringEntry(r.expect(LD, "dynamic labels"), node.dynamicLabels);
        break;
      case NODE.nodeId:
        node.nodeId = r.expect(LD, "a node id").hex();
        break;
      case NODE.instanceId:
        node.instanceId = r.expect(LD, "an instance id").string();
        break;
      case NODE.rayNodeTypeName:
        node.rayNodeTypeName = r.expect(LD, "a node type").recurring();
        break;
      case NODE.instanceTypeName:
        node.instanceTypeName = r.expect(LD, "an instance type").recurring();
        break;
      case NODE.ip:
        node.nodeIpAddress = r.expect(LD, "a node IP").string();
        break;
      case NODE.activity:
        node.nodeActivity.push(r.expect(LD, "a node activity").recurring());
        break;
      case NODE.status:
        status = r.expect(VARINT, "a node status").int32();
        break;
      case NODE.idle:
        node.idleDurationMs = r.expect(VARINT, "an idle time").int64();
        break;
      case NODE.version:
        node.nodeStateVersion = r.expect(VARINT, "a node version").int64();
        break;
      default:
        r.skipField();
    }
  }
  r.done(end);
  node.status = nodeStatusName(status);
  return node;
}

/** A ClusterResourceState message into `into` (merged, as a message field seen twice is). */
function readState(r: WireReader, into: ClusterResourceState): void {
  const LD = LENGTH_DELIMITED;
  const end = r.end();
  while (r.pos < end) {
    switch (r.field()) {
      case STATE.nodes:
        into.nodes.push(readNode(r.expect(LD, "a node")));
        break;
      case STATE.pending:
        into.pendingResourceRequests.push(readByCount(r.expect(LD, "a pending request")));
        break;
      case STATE.gangs:
        into.pendingGangResourceRequests.push(readGang(r.expect(LD, "a gang request")));
        break;
      case STATE.constraints:
        into.clusterResourceConstraints.push(readConstraint(r.expect(LD, "a cluster resource constraint")));
        break;
      case STATE.session:
        into.sessionName = r.expect(LD, "the session name").string();
        break;
      case STATE.version:
        into.version = r.expect(VARINT, "the state version").int64();
        break;
      case STATE.lastSeen:
        into.lastSeenAutoscalerStateVersion = r.expect(VARINT, "the last seen version").int64();
        break;
      default:
        r.skipField();
    }
  }
  r.done(end);
}

/** Decodes a GetClusterResourceStateReply into the typed state (an empty state when it holds none). */
export function decodeClusterResourceStateReply(bytes: Uint8Array): ClusterResourceState {
  const r = new WireReader(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  const state: ClusterResourceState = {
    version: 0,
    lastSeenAutoscalerStateVersion: 0,
    sessionName: "",
    nodes: [],
    pendingResourceRequests: [],
    pendingGangResourceRequests: [],
    clusterResourceConstraints: [],
  };
  while (r.pos < bytes.byteLength) {
    if (r.field() === REPLY.clusterResourceState) readState(r.expect(LENGTH_DELIMITED, "the state"), state);
    else r.skipField();
  }
  r.done(bytes.byteLength);
  return state;
}
