// The direct decoder of GetClusterResourceState replies (operator/autoscaler/gcs-decode.ts) against the
// generated one: for Ray's own recorded reply and for arbitrary messages (fast-check), the typed state
// must be exactly `toClusterResourceState(fromBinary(...))`, protobuf's rules included (merging a state
// sent twice, unknown fields skipped, map entries without key or value).
import { strict as assert } from "assert";
import { readFileSync } from "fs";
import { join } from "path";
import fc from "fast-check";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import {
  ClusterResourceStateSchema,
  GetClusterResourceStateReplySchema,
  NodeStateSchema,
  ResourceRequestSchema,
} from "../../operator/autoscaler/gen/src/ray/protobuf/autoscaler_pb";
import { LabelSelectorOperator } from "../../operator/autoscaler/gen/src/ray/protobuf/common_pb";
import { ClusterResourceState, toClusterResourceState } from "../../operator/autoscaler/gcs-client";
import { decodeClusterResourceStateReply } from "../../operator/autoscaler/gcs-decode";

/** What the client returned before the direct decoder: the generated decoder, then the conversion. */
function viaGenerated(bytes: Uint8Array): ClusterResourceState {
  const reply = fromBinary(GetClusterResourceStateReplySchema, bytes);
  return toClusterResourceState(reply.clusterResourceState ?? create(ClusterResourceStateSchema));
}

const same = (bytes: Uint8Array) => assert.deepStrictEqual(decodeClusterResourceStateReply(bytes), viaGenerated(bytes));

type ReplyInit = MessageInitShape<typeof GetClusterResourceStateReplySchema>;
type RequestInit = MessageInitShape<typeof ResourceRequestSchema>;

// Text with multi-byte UTF-8, and the words the strategy is read from.
const text = fc.oneof(
  fc.string({ maxLength: 8, unit: fc.constantFrom("a", "Z", "0", "-", ":", "_", "é", "日", "😀") }),
  fc.constantFrom("ab:PACK|PENDING", "cd:SPREAD|PENDING", "ef:STRICT_SPREAD|PENDING", "node:10.0.0.1"),
);
const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
const count = fc.oneof(int64, fc.bigInt({ min: 0n, max: 10_000n }));
const resources = fc.dictionary(text, fc.oneof(fc.double(), fc.constantFrom(0, 1, 0.5, 2 ** 30)), { maxKeys: 5 });
const labelPair = fc.record({ labelName: text, labelValue: text });
const placementConstraint = fc.record({ antiAffinity: labelPair, affinity: labelPair }, { requiredKeys: [] });
const labelSelector = fc.record({
  labelConstraints: fc.array(
    fc.record({
      labelKey: text,
      operator: fc.constantFrom(LabelSelectorOperator.LABEL_OPERATOR_IN, LabelSelectorOperator.LABEL_OPERATOR_NOT_IN),
      labelValues: fc.array(text, { maxLength: 2 }),
    }),
    { maxLength: 2 },
  ),
});
const request: fc.Arbitrary<RequestInit> = fc.record(
  {
    resourcesBundle: resources,
    placementConstraints: fc.array(placementConstraint, { maxLength: 2 }),
    labelSelectors: fc.array(labelSelector, { maxLength: 1 }),
  },
  { requiredKeys: ["resourcesBundle"] },
);
const byCount = fc.record({ request, count }, { requiredKeys: ["count"] });
const node = fc.record(
  {
    nodeId: fc.uint8Array({ maxLength: 28 }),
    instanceId: text,
    rayNodeTypeName: text,
    availableResources: resources,
    totalResources: resources,
    dynamicLabels: fc.dictionary(text, text, { maxKeys: 2 }),
    nodeStateVersion: int64,
    // Unknown numbers too: a status a newer Ray adds.
    status: fc.integer({ min: -3, max: 9 }),
    idleDurationMs: int64,
    nodeIpAddress: text,
    instanceTypeName: text,
    nodeActivity: fc.array(text, { maxLength: 3 }),
    labels: fc.dictionary(text, text, { maxKeys: 3 }),
  },
  { requiredKeys: [] },
);
const gang = fc.record(
  {
    requests: fc.array(request, { maxLength: 3 }),
    details: text,
    bundleSelectors: fc.array(fc.record({ resourceRequests: fc.array(request, { maxLength: 2 }) }), { maxLength: 2 }),
  },
  { requiredKeys: [] },
);
const reply: fc.Arbitrary<ReplyInit> = fc.record(
  {
    clusterResourceState: fc.record(
      {
        clusterResourceStateVersion: int64,
        lastSeenAutoscalerStateVersion: int64,
        nodeStates: fc.array(node, { maxLength: 4 }),
        pendingResourceRequests: fc.array(byCount, { maxLength: 3 }),
        pendingGangResourceRequests: fc.array(gang, { maxLength: 3 }),
        clusterResourceConstraints: fc.array(fc.record({ resourceRequests: fc.array(byCount, { maxLength: 2 }) }), {
          maxLength: 2,
        }),
        clusterSessionName: text,
      },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: [] },
);
const encode = (init: ReplyInit) =>
  toBinary(GetClusterResourceStateReplySchema, create(GetClusterResourceStateReplySchema, init));

describe("autoscaler: GetClusterResourceState decoded straight into the typed state", () => {
  it("Ray's own reply (recorded from a real head, bench/autoscaler/recorded/) reads as the generated code does", () => {
    const bytes = new Uint8Array(
      readFileSync(join(__dirname, "../../bench/autoscaler/recorded/GetClusterResourceStateReply.bin")),
    );
    const state = decodeClusterResourceStateReply(bytes);
    assert.ok(state.nodes.length > 0 && state.pendingGangResourceRequests.length > 0, "an empty recording");
    same(bytes);
  });

  it("arbitrary replies decode as the generated code reads them", () => {
    fc.assert(
      fc.property(reply, (init) => same(encode(init))),
      { numRuns: 300 },
    );
  });

  it("a state sent twice is merged, as protobuf merges a message field seen twice", () => {
    fc.assert(
      fc.property(reply, reply, (a, b) => same(Buffer.concat([encode(a), encode(b)]))),
      { numRuns: 100 },
    );
  });

  it("recurring names are read right however many there are (the decoder keeps the last ~8,000)", () => {
    // 20,000 distinct resource names, each on two nodes, over two decodes: cached, evicted, read again.
    const names = Array.from({ length: 20_000 }, (_, i) => `node:10.${i >> 8}.${i & 255}.${i % 7}`);
    const nodeStates = Array.from({ length: 200 }, (_, n) => ({
      instanceId: `w-${n}`,
      rayNodeTypeName: n % 2 ? "cpu-4" : "worker-nodes",
      totalResources: Object.fromEntries(names.slice((n % 100) * 200, (n % 100) * 200 + 200).map((k) => [k, n])),
    }));
    const bytes = encode({ clusterResourceState: { nodeStates } });
    same(bytes);
    same(bytes);
  });

  it("no state: an empty one", () => {
    same(new Uint8Array(0));
    assert.deepEqual(decodeClusterResourceStateReply(new Uint8Array(0)).nodes, []);
  });

  it("skips fields it does not know (a newer Ray's), of any wire type; reads map entries without key or value", () => {
    const nodeBytes = toBinary(
      NodeStateSchema,
      create(NodeStateSchema, { instanceId: "w-1", totalResources: { CPU: 4 }, labels: { zone: "a" } }),
    );
    const extra = new BinaryWriter()
      .tag(99, WireType.Varint)
      .uint64(2n ** 62n)
      .tag(98, WireType.LengthDelimited)
      .bytes(new Uint8Array([1, 2, 3]))
      .tag(97, WireType.Bit32)
      .fixed32(7)
      .tag(96, WireType.Bit64)
      .fixed64(8n)
      .tag(95, WireType.StartGroup)
      .tag(1, WireType.Varint)
      .int32(1)
      .tag(95, WireType.EndGroup)
      // A total_resources entry with no key, one with no value.
      .tag(NodeStateSchema.field.totalResources.number, WireType.LengthDelimited)
      .fork()
      .tag(2, WireType.Bit64)
      .double(1.5)
      .join()
      .tag(NodeStateSchema.field.totalResources.number, WireType.LengthDelimited)
      .fork()
      .tag(1, WireType.LengthDelimited)
      .string("GPU")
      .join()
      .finish();
    const state = new BinaryWriter()
      .tag(ClusterResourceStateSchema.field.nodeStates.number, WireType.LengthDelimited)
      .bytes(new Uint8Array([...nodeBytes, ...extra]))
      .tag(50, WireType.Varint)
      .int32(3)
      .finish();
    const bytes = new BinaryWriter()
      .tag(GetClusterResourceStateReplySchema.field.clusterResourceState.number, WireType.LengthDelimited)
      .bytes(state)
      .tag(7, WireType.LengthDelimited)
      .string("unknown to this Ray")
      .finish();
    same(bytes);
    assert.deepEqual(decodeClusterResourceStateReply(bytes).nodes[0].totalResources, { CPU: 4, "": 1.5, GPU: 0 });
  });

  it("refuses a reply cut short, and a field of the wrong wire type", () => {
    const bytes = encode({
      clusterResourceState: {
        nodeStates: [{ instanceId: "w-1", totalResources: { CPU: 1 } }],
        clusterSessionName: "s",
      },
    });
    for (let end = 1; end < bytes.length; end++)
      assert.throws(() => decodeClusterResourceStateReply(bytes.subarray(0, end)), /gcs-decode/, `cut at ${end}`);
    const wrong = new BinaryWriter()
      .tag(GetClusterResourceStateReplySchema.field.clusterResourceState.number, WireType.Varint)
      .int32(1)
      .finish();
    assert.throws(() => decodeClusterResourceStateReply(wrong), /wire type/);
  });
});
