// The GCS client and its wire codec, against an in-process gRPC server on 127.0.0.1 that speaks the
// same service with the same schemas. (The real GCS is in test/integration/ray-gcs.test.ts; the field
// numbers are checked against the Ray wheel's descriptor in test/integration/ray-proto.test.ts.)
import { strict as assert } from "assert";
import * as grpc from "@grpc/grpc-js";
import fc from "fast-check";
import {
  AutoscalingState,
  ClusterResourceState as ClusterResourceStateSchema,
  DrainNodeReply,
  DrainNodeRequest,
  GetClusterResourceStateReply,
  GetClusterResourceStateRequest,
  NodeState,
  ReportAutoscalingStateReply,
  ReportAutoscalingStateRequest,
} from "../../operator/autoscaler/autoscaler-proto";
import { ClusterResourceState, GcsAutoscalerClient, GcsError, gangStrategy, RayNodeState } from "../../operator/autoscaler/gcs-client";
import { observedFromGcs } from "../../operator/autoscaler/gcs-input";
import { decodeMessage, Decoded, encodeMessage, MessageSchema, ProtoDecodeError } from "../../operator/autoscaler/protowire";
import { freePorts } from "../support/ray";

describe("autoscaler protobuf wire codec", () => {
  it("encodes a DrainNodeRequest byte for byte as protobuf does", () => {
    const bytes = encodeMessage(DrainNodeRequest, { node_id: Buffer.from([0xab, 0xcd]), reason: 1, reason_message: "x", deadline_timestamp_ms: 300 });
    // field 1 (bytes): 0x0a len 2 ab cd; field 2 (enum 1): 0x10 01; field 3 (string "x"): 0x1a 01 78;
    // field 4 (int64 300 = 0b10_0101100): 0x20 ac 02.
    assert.equal(bytes.toString("hex"), "0a02abcd10011a01782" + "0ac02");
    assert.deepEqual(decodeMessage(DrainNodeRequest, bytes), { node_id: Buffer.from([0xab, 0xcd]), reason: 1, reason_message: "x", deadline_timestamp_ms: 300 });
  });

  it("leaves out proto3 defaults and reads them back as defaults", () => {
    assert.equal(encodeMessage(DrainNodeReply, { is_accepted: false, rejection_reason_message: "" }).length, 0);
    assert.deepEqual(decodeMessage(DrainNodeReply, Buffer.alloc(0)), { is_accepted: false, rejection_reason_message: "" });
    assert.deepEqual(decodeMessage(DrainNodeReply, Buffer.from("0801", "hex")), { is_accepted: true, rejection_reason_message: "" });
  });

  it("int64: large and negative values (ten-byte two's complement)", () => {
    const schema: MessageSchema = { fullName: "t.I", fields: [{ no: 1, name: "v", type: "int64" }] };
    for (const v of [1, 127, 128, 2 ** 31, 2 ** 40 + 5, Number.MAX_SAFE_INTEGER, -1, -300, -(2 ** 40)]) {
      assert.equal(decodeMessage(schema, encodeMessage(schema, { v })).v, v);
    }
    assert.equal(encodeMessage(schema, { v: -1 }).toString("hex"), "08ffffffffffffffffff01");
  });

  it("maps, repeated messages and strings", () => {
    const node = { node_id: Buffer.from("0102", "hex"), instance_id: "pod-a", total_resources: { CPU: 2, "node:1.2.3.4": 1 }, node_activity: ["a", "b"], status: 3 };
    const back = decodeMessage(NodeState, encodeMessage(NodeState, node));
    assert.deepEqual(back.total_resources, { CPU: 2, "node:1.2.3.4": 1 });
    assert.deepEqual(back.node_activity, ["a", "b"]);
    assert.equal(back.instance_id, "pod-a");
    assert.equal(back.status, 3);
    assert.deepEqual(back.available_resources, {});
  });

  it("skips fields it does not know (a newer Ray adds fields)", () => {
    const newer: MessageSchema = {
      fullName: "t.N",
      fields: [...DrainNodeReply.fields, { no: 9, name: "future", type: "string" }, { no: 10, name: "future_num", type: "double" }, { no: 11, name: "future_int", type: "uint64" }],
    };
    const bytes = encodeMessage(newer, { is_accepted: true, future: "hello", future_num: 1.5, future_int: 7, rejection_reason_message: "r" });
    assert.deepEqual(decodeMessage(DrainNodeReply, bytes), { is_accepted: true, rejection_reason_message: "r" });
  });

  it("reads repeated numbers packed or not", () => {
    const schema: MessageSchema = { fullName: "t.R", fields: [{ no: 1, name: "xs", type: "int64", repeated: true }] };
    assert.deepEqual(decodeMessage(schema, Buffer.from("0a03010203", "hex")).xs, [1, 2, 3]); // packed
    assert.deepEqual(decodeMessage(schema, Buffer.from("080108020803", "hex")).xs, [1, 2, 3]); // unpacked
    assert.deepEqual(decodeMessage(schema, encodeMessage(schema, { xs: [5, 300, -2] })).xs, [5, 300, -2]);
  });

  it("rejects truncated or malformed input with ProtoDecodeError", () => {
    const good = encodeMessage(NodeState, { instance_id: "pod-a", total_resources: { CPU: 1 } });
    // Cut anywhere but at the one field boundary (there it is a shorter, valid message).
    const boundary = encodeMessage(NodeState, { instance_id: "pod-a" }).length;
    for (let cut = 1; cut < good.length; cut++) {
      if (cut === boundary) continue;
      assert.throws(() => decodeMessage(NodeState, good.subarray(0, cut)), ProtoDecodeError, `cut at ${cut}`);
    }
    assert.throws(() => decodeMessage(NodeState, Buffer.from("0b", "hex")), ProtoDecodeError); // wire type 3 (group)
    assert.throws(() => decodeMessage(NodeState, Buffer.from("1001", "hex")), ProtoDecodeError); // instance_id as varint
  });

  it("round-trips arbitrary ClusterResourceStates", () => {
    const resources = fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), fc.double({ noNaN: true, noDefaultInfinity: true }), { maxKeys: 5 });
    const request = fc.record({ resources_bundle: resources, placement_constraints: fc.constant([]), label_selectors: fc.constant([]) });
    const state = fc.record({
      cluster_resource_state_version: fc.integer({ min: 0, max: 2 ** 40 }),
      last_seen_autoscaler_state_version: fc.integer({ min: 0, max: 1000 }),
      node_states: fc.array(
        fc.record({
          node_id: fc.uint8Array({ minLength: 0, maxLength: 28 }).map((a) => Buffer.from(a)),
          instance_id: fc.string(),
          ray_node_type_name: fc.string(),
          available_resources: resources,
          total_resources: resources,
          dynamic_labels: fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }),
          node_state_version: fc.integer({ min: 0, max: 1e6 }),
          status: fc.integer({ min: 0, max: 4 }),
          idle_duration_ms: fc.integer({ min: 0, max: 2 ** 45 }),
          node_ip_address: fc.string(),
          instance_type_name: fc.string(),
          node_activity: fc.array(fc.string(), { maxLength: 3 }),
          labels: fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }),
        }),
        { maxLength: 4 },
      ),
      pending_resource_requests: fc.array(fc.record({ request, count: fc.integer({ min: 0, max: 1e9 }) }), { maxLength: 3 }),
      pending_gang_resource_requests: fc.constant([]),
      cluster_resource_constraints: fc.constant([]),
      cluster_session_name: fc.string(),
    });
    fc.assert(
      fc.property(state, (s) => {
        const back = decodeMessage(ClusterResourceStateSchema, encodeMessage(ClusterResourceStateSchema, s as unknown as Decoded));
        // Normalise -0 (protobuf writes no default, so -0.0 reads back as 0).
        const norm = (x: unknown) => JSON.parse(JSON.stringify(x, (_k, v) => (Object.is(v, -0) ? 0 : v?.type === "Buffer" ? Buffer.from(v.data).toString("hex") : v)));
        assert.deepEqual(norm(back), norm({ ...s, node_states: s.node_states.map((n) => ({ ...n })) }));
      }),
      { numRuns: 200 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// The client against a fake GCS
// ---------------------------------------------------------------------------------------------

const SERVICE = "/ray.rpc.autoscaler.AutoscalerStateService";

function method(path: string, req: MessageSchema, reply: MessageSchema): grpc.MethodDefinition<Decoded, Decoded> {
  return {
    path: `${SERVICE}/${path}`,
    requestStream: false,
    responseStream: false,
    requestSerialize: (m) => encodeMessage(req, m),
    requestDeserialize: (b) => decodeMessage(req, b),
    responseSerialize: (m) => encodeMessage(reply, m),
    responseDeserialize: (b) => decodeMessage(reply, b),
  };
}

const FAKE_STATE: Decoded = {
  cluster_resource_state_version: 42,
  last_seen_autoscaler_state_version: 7,
  cluster_session_name: "session_2026_x",
  node_states: [
    {
      node_id: Buffer.from("ff00aa", "hex"),
      instance_id: "example-cluster-ray-worker-4hvv6",
      ray_node_type_name: "worker-nodes",
      total_resources: { CPU: 1, Custom1: 1 },
      available_resources: { CPU: 0, Custom1: 1 },
      status: 1,
      idle_duration_ms: 0,
      node_ip_address: "10.0.0.5",
      node_activity: ["Resource: CPU currently in use."],
      labels: { "ray.io/node-group": "worker-nodes" },
    },
    { node_id: Buffer.from("01", "hex"), instance_id: "", status: 3, idle_duration_ms: 12345, total_resources: { CPU: 1 }, available_resources: { CPU: 1 } },
    { node_id: Buffer.from("02", "hex"), status: 2 },
  ],
  pending_resource_requests: [{ request: { resources_bundle: { Custom1: 1 } }, count: 3 }],
  pending_gang_resource_requests: [
    { requests: [{ resources_bundle: { CPU: 4 }, placement_constraints: [{ anti_affinity: { label_name: "_PG_ab", label_value: "" } }] }], details: "ab:STRICT_SPREAD|PENDING" },
    { requests: [{ resources_bundle: { CPU: 4 }, placement_constraints: [{ affinity: { label_name: "_PG_cd", label_value: "" } }] }], details: "cd:STRICT_PACK|PENDING" },
    { requests: [{ resources_bundle: { CPU: 1 } }, { resources_bundle: { CPU: 1 } }], details: "ef:SPREAD|PENDING" },
    { requests: [{ resources_bundle: { CPU: 1 } }], details: "gh:PACK|PENDING" },
  ],
  cluster_resource_constraints: [{ resource_requests: [{ request: { resources_bundle: { CPU: 2 } }, count: 1 }, { request: { resources_bundle: { GPU: 1 } }, count: 4 }] }],
};

describe("autoscaler GCS client (fake GCS on loopback)", function () {
  let server: grpc.Server;
  let address: string;
  const seen: { reports: Decoded[]; drains: Decoded[]; auth: (string | undefined)[] } = { reports: [], drains: [], auth: [] };
  let stall = false;

  before(async () => {
    server = new grpc.Server();
    const service: grpc.ServiceDefinition = {
      GetClusterResourceState: method("GetClusterResourceState", GetClusterResourceStateRequest, GetClusterResourceStateReply),
      ReportAutoscalingState: method("ReportAutoscalingState", ReportAutoscalingStateRequest, ReportAutoscalingStateReply),
      DrainNode: method("DrainNode", DrainNodeRequest, DrainNodeReply),
    };
    server.addService(service, {
      GetClusterResourceState: (call: grpc.ServerUnaryCall<Decoded, Decoded>, cb: grpc.sendUnaryData<Decoded>) => {
        seen.auth.push(call.metadata.get("authorization")[0] as string | undefined);
        if (stall) return; // never answers: the client's deadline must fire
        cb(null, { cluster_resource_state: FAKE_STATE });
      },
      ReportAutoscalingState: (call: grpc.ServerUnaryCall<Decoded, Decoded>, cb: grpc.sendUnaryData<Decoded>) => {
        seen.reports.push(call.request.autoscaling_state as Decoded);
        cb(null, {});
      },
      DrainNode: (call: grpc.ServerUnaryCall<Decoded, Decoded>, cb: grpc.sendUnaryData<Decoded>) => {
        seen.drains.push(call.request);
        const busy = (call.request.node_id as Buffer).toString("hex") === "ff00aa";
        cb(null, busy ? { is_accepted: false, rejection_reason_message: "The node to be idle terminated is no longer idle." } : { is_accepted: true });
      },
    });
    const [port] = await freePorts(1);
    await new Promise<void>((res, rej) => server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? rej(e) : res())));
    address = `127.0.0.1:${port}`;
  });

  after(() => server.forceShutdown());

  it("GetClusterResourceState: a typed state (node ids in hex, statuses by name, strategies, constraints)", async () => {
    const gcs = new GcsAutoscalerClient({ address, authToken: "s3cret" });
    try {
      const s = await gcs.getClusterResourceState();
      assert.equal(s.version, 42);
      assert.equal(s.lastSeenAutoscalerStateVersion, 7);
      assert.equal(s.sessionName, "session_2026_x");
      assert.deepEqual(
        s.nodes.map((n) => [n.nodeId, n.instanceId, n.rayNodeTypeName, n.status, n.idleDurationMs]),
        [
          ["ff00aa", "example-cluster-ray-worker-4hvv6", "worker-nodes", "RUNNING", 0],
          ["01", "", "", "IDLE", 12345],
          ["02", "", "", "DEAD", 0],
        ],
      );
      assert.deepEqual(s.nodes[0].availableResources, { CPU: 0, Custom1: 1 });
      assert.deepEqual(s.nodes[0].nodeActivity, ["Resource: CPU currently in use."]);
      assert.deepEqual(s.pendingResourceRequests.map((r) => [r.request.resources, r.count]), [[{ Custom1: 1 }, 3]]);
      assert.deepEqual(s.pendingGangResourceRequests.map((g) => [g.strategy, g.bundles.length]), [
        ["STRICT_SPREAD", 1],
        ["STRICT_PACK", 1],
        ["SPREAD", 2],
        ["PACK", 1],
      ]);
      assert.deepEqual(s.clusterResourceConstraints.map((c) => c.map((r) => [r.request.resources, r.count])), [
        [
          [{ CPU: 2 }, 1],
          [{ GPU: 1 }, 4],
        ],
      ]);
      assert.equal(seen.auth.at(-1), "Bearer s3cret");
    } finally {
      gcs.close();
    }
  });

  it("ReportAutoscalingState: sends our decision in Ray's fields", async () => {
    const gcs = new GcsAutoscalerClient({ address });
    try {
      await gcs.reportAutoscalingState({
        lastSeenClusterResourceStateVersion: 42,
        autoscalerStateVersion: 3,
        pendingInstanceRequests: [{ rayNodeTypeName: "worker-nodes", count: 2, requestTsMs: 1000 }],
        pendingInstances: [{ rayNodeTypeName: "worker-nodes", instanceId: "pod-x" }],
        infeasibleResourceRequests: [{ GPU: 8 }],
        infeasibleGangResourceRequests: [{ bundles: [{ CPU: 64 }], details: "too big" }],
        infeasibleClusterResourceConstraints: [[{ resources: { TPU: 1 }, count: 2 }]],
        failedInstanceRequests: [{ rayNodeTypeName: "worker-nodes", count: 1, reason: "quota" }],
      });
      const r = seen.reports.at(-1)!;
      assert.equal(r.last_seen_cluster_resource_state_version, 42);
      assert.equal(r.autoscaler_state_version, 3);
      assert.deepEqual(r.pending_instance_requests, [{ instance_type_name: "worker-nodes", ray_node_type_name: "worker-nodes", count: 2, request_ts: 1000 }]);
      assert.deepEqual((r.pending_instances as Decoded[])[0].instance_id, "pod-x");
      assert.deepEqual((r.infeasible_resource_requests as Decoded[])[0].resources_bundle, { GPU: 8 });
      assert.equal((r.infeasible_gang_resource_requests as Decoded[])[0].details, "too big");
      assert.deepEqual(((r.infeasible_cluster_resource_constraints as Decoded[])[0].resource_requests as Decoded[])[0].count, 2);
      assert.equal((r.failed_instance_requests as Decoded[])[0].reason, "quota");
      // And what went over the wire decodes as Ray's AutoscalingState.
      assert.ok(decodeMessage(AutoscalingState, encodeMessage(AutoscalingState, r)));
    } finally {
      gcs.close();
    }
  });

  it("DrainNode: node id from hex, IDLE_TERMINATION, the reply's acceptance and reason", async () => {
    const gcs = new GcsAutoscalerClient({ address });
    try {
      assert.deepEqual(await gcs.drainNode({ nodeId: "01", reason: "IDLE_TERMINATION", message: "idle 300 s", deadlineTimestampMs: 123 }), { accepted: true, rejectionReason: "" });
      const d = seen.drains.at(-1)!;
      assert.deepEqual(d, { node_id: Buffer.from("01", "hex"), reason: 1, reason_message: "idle 300 s", deadline_timestamp_ms: 123 });
      const busy = await gcs.drainNode({ nodeId: "ff00aa", reason: "PREEMPTION", message: "x" });
      assert.equal(busy.accepted, false);
      assert.match(busy.rejectionReason, /no longer idle/);
      assert.equal(seen.drains.at(-1)!.reason, 2);
      await assert.rejects(gcs.drainNode({ nodeId: "", reason: "IDLE_TERMINATION", message: "x" }), /empty node id/);
    } finally {
      gcs.close();
    }
  });

  it("every call has a deadline: a GCS that does not answer fails at it", async () => {
    const gcs = new GcsAutoscalerClient({ address, timeoutMs: 300 });
    stall = true;
    try {
      const t0 = Date.now();
      const err = await gcs.getClusterResourceState().then(
        () => assert.fail("no error"),
        (e) => e,
      );
      assert.ok(err instanceof GcsError);
      assert.equal(err.code, grpc.status.DEADLINE_EXCEEDED);
      assert.ok(err.unreachable);
      assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
      assert.match(err.message, /GetClusterResourceState: DEADLINE_EXCEEDED/);
    } finally {
      stall = false;
      gcs.close();
    }
  });

  it("a head that is down fails at once with UNAVAILABLE and the address in the message", async () => {
    const [port] = await freePorts(1); // nothing listens there
    const gcs = new GcsAutoscalerClient({ address: `127.0.0.1:${port}`, timeoutMs: 10_000 });
    try {
      const t0 = Date.now();
      const err: GcsError = await gcs.getClusterResourceState().then(
        () => assert.fail("no error"),
        (e) => e,
      );
      assert.equal(err.code, grpc.status.UNAVAILABLE);
      assert.ok(err.unreachable);
      assert.ok(err.message.includes(`127.0.0.1:${port}`));
      assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms, not at once`);
    } finally {
      gcs.close();
    }
  });

  it("reads the placement strategy from constraints first, then from the details text", () => {
    const b = (c: object[] = []) => ({ resources: { CPU: 1 }, placementConstraints: c, labelSelectors: [] });
    assert.equal(gangStrategy([b([{ antiAffinity: { labelName: "x", labelValue: "" } }])], ""), "STRICT_SPREAD");
    assert.equal(gangStrategy([b([{ affinity: { labelName: "x", labelValue: "" } }])], "x:PACK"), "STRICT_PACK");
    assert.equal(gangStrategy([b()], "id:SPREAD|PENDING"), "SPREAD");
    assert.equal(gangStrategy([b()], "id:STRICT_SPREAD|PENDING"), "STRICT_SPREAD");
    assert.equal(gangStrategy([b()], ""), "PACK");
  });
});

describe("autoscaler: GCS state to scheduler input", () => {
  const node = (over: Partial<RayNodeState>): RayNodeState => ({
    nodeId: "aa",
    instanceId: "",
    rayNodeTypeName: "",
    instanceTypeName: "",
    nodeIpAddress: "10.0.0.1",
    status: "IDLE",
    totalResources: { CPU: 1 },
    availableResources: { CPU: 1 },
    idleDurationMs: 0,
    nodeActivity: [],
    labels: {},
    dynamicLabels: {},
    nodeStateVersion: 1,
    ...over,
  });

  it("maps nodes by pod name, finds the head, prefers the live row of a restarted pod, flattens demand", () => {
    const state: ClusterResourceState = {
      version: 3,
      lastSeenAutoscalerStateVersion: 0,
      sessionName: "s",
      nodes: [
        node({ nodeId: "01", instanceId: "c-ray-head-x", rayNodeTypeName: "head-node", totalResources: { CPU: 1, "node:__internal_head__": 1 } }),
        node({ nodeId: "02", instanceId: "c-ray-worker-a", rayNodeTypeName: "worker-nodes", status: "DEAD" }),
        node({ nodeId: "03", instanceId: "c-ray-worker-a", rayNodeTypeName: "worker-nodes", status: "RUNNING", availableResources: { CPU: 0 }, nodeActivity: ["busy"] }),
        node({ nodeId: "04", instanceId: "c-ray-worker-b", rayNodeTypeName: "worker-nodes", status: "RUNNING" }),
        node({ nodeId: "05", instanceId: "c-ray-worker-b", rayNodeTypeName: "worker-nodes", status: "DEAD" }),
        node({ nodeId: "06" }),
      ],
      pendingResourceRequests: [
        { request: { resources: { Custom1: 1 }, placementConstraints: [], labelSelectors: [] }, count: 3 },
        { request: { resources: { CPU: 1 }, placementConstraints: [], labelSelectors: [] }, count: 0 },
      ],
      pendingGangResourceRequests: [{ strategy: "STRICT_SPREAD", details: "", bundles: [{ resources: { CPU: 2 }, placementConstraints: [], labelSelectors: [] }] }],
      clusterResourceConstraints: [[{ request: { resources: { CPU: 4 }, placementConstraints: [], labelSelectors: [] }, count: 2 }]],
    };
    const seen = observedFromGcs(state);
    assert.deepEqual(
      seen.nodes.map((n) => [n.instanceId, n.type, n.status, n.isHead]),
      [
        ["c-ray-head-x", "head-node", "IDLE", true],
        ["c-ray-worker-a", "worker-nodes", "RUNNING", false],
        ["c-ray-worker-b", "worker-nodes", "RUNNING", false],
        ["ray-node-06", "", "IDLE", false],
      ],
    );
    assert.deepEqual(seen.nodeIds, { "c-ray-head-x": "01", "c-ray-worker-a": "03", "c-ray-worker-b": "04", "ray-node-06": "06" });
    assert.deepEqual(seen.nodes[1].activity, ["busy"]);
    assert.deepEqual(seen.demands, [{ resources: { Custom1: 1 }, count: 3 }]);
    assert.deepEqual(seen.gangs, [{ strategy: "STRICT_SPREAD", bundles: [{ CPU: 2 }] }]);
    assert.deepEqual(seen.constraints, [{ resources: { CPU: 4 }, count: 2 }]);
  });
});
