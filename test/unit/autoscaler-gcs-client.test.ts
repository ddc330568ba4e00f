// The GCS client and its messages, against an in-process gRPC server on 127.0.0.1 that serves the same
// service through the same generated code (operator/autoscaler/gen/). The real GCS is in
// test/integration/ray-gcs.test.ts; the generated code is checked against the Ray wheel in
// test/integration/ray-proto.test.ts.
import { strict as assert } from "assert";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { DescMessage, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import fc from "fast-check";
import * as net from "net";
import {
  AutoscalerStateService,
  AutoscalingState,
  ClusterResourceStateSchema,
  DrainNodeReason,
  DrainNodeReplySchema,
  DrainNodeRequest,
  DrainNodeRequestSchema,
  NodeStateSchema,
  NodeStatus,
} from "../../operator/autoscaler/gen/src/ray/protobuf/autoscaler_pb";
import {
  ClusterResourceState,
  GcsAutoscalerClient,
  GcsError,
  gangStrategy,
  grpcMethodDefinition,
  RayNodeState,
  ResourceMap,
  ResourceRequestByCountInfo,
  ResourceRequestInfo,
  toClusterResourceState,
  UnaryMethod,
} from "../../operator/autoscaler/gcs-client";
import { observedFromGcs } from "../../operator/autoscaler/gcs-input";
import { freePorts } from "../support/ray";

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

describe("autoscaler messages: the generated codec and our conversions", () => {
  it("encodes a DrainNodeRequest byte for byte as protobuf does", () => {
    const request = create(DrainNodeRequestSchema, {
      nodeId: Buffer.from([0xab, 0xcd]),
      reason: DrainNodeReason.IDLE_TERMINATION,
      reasonMessage: "x",
      deadlineTimestampMs: 300n,
    });
    const bytes = toBinary(DrainNodeRequestSchema, request);
    // field 1 (bytes): 0x0a len 2 ab cd; field 2 (enum 1): 0x10 01; field 3 (string "x"): 0x1a 01 78;
    // field 4 (int64 300 = 0b10_0101100): 0x20 ac 02.
    assert.equal(hex(bytes), "0a02abcd" + "1001" + "1a0178" + "20ac02");
    const back = fromBinary(DrainNodeRequestSchema, bytes);
    assert.deepEqual(
      [hex(back.nodeId), back.reason, back.reasonMessage, back.deadlineTimestampMs],
      ["abcd", DrainNodeReason.IDLE_TERMINATION, "x", 300n],
    );
  });

  it("leaves out proto3 defaults and reads them back as defaults", () => {
    assert.equal(toBinary(DrainNodeReplySchema, create(DrainNodeReplySchema)).length, 0);
    const empty = fromBinary(DrainNodeReplySchema, new Uint8Array());
    assert.deepEqual([empty.isAccepted, empty.rejectionReasonMessage], [false, ""]);
    assert.equal(fromBinary(DrainNodeReplySchema, Buffer.from("0801", "hex")).isAccepted, true);
  });

  it("reads a newer Ray's message: fields it does not know are skipped", () => {
    const future = Buffer.from(
      "0801" + // is_accepted = true
        "4a0568656c6c6f" + // field 9, a string: "hello"
        "51000000000000f83f" + // field 10, a double: 1.5
        "5807" + // field 11, a varint: 7
        "120172", // rejection_reason_message = "r"
      "hex",
    );
    const reply = fromBinary(DrainNodeReplySchema, future);
    assert.equal(reply.isAccepted, true);
    assert.equal(reply.rejectionReasonMessage, "r");
  });

  it("rejects truncated or malformed input", () => {
    const node = create(NodeStateSchema, { instanceId: "pod-a", totalResources: { CPU: 1 } });
    const good = toBinary(NodeStateSchema, node);
    // Cut anywhere but at the one field boundary (there it is a shorter, valid message).
    const boundary = toBinary(NodeStateSchema, create(NodeStateSchema, { instanceId: "pod-a" })).length;
    for (let cut = 1; cut < good.length; cut++) {
      if (cut === boundary) continue;
      assert.throws(() => fromBinary(NodeStateSchema, good.subarray(0, cut)), Error, `cut at ${cut}`);
    }
    assert.throws(() => fromBinary(NodeStateSchema, Buffer.from("0b", "hex"))); // wire type 3 (group)
    assert.throws(() => fromBinary(NodeStateSchema, Buffer.from("1001", "hex"))); // instance_id as a varint
  });

  it("int64 fields (bigint in the messages) become numbers, exact up to 2^53", () => {
    const state = toClusterResourceState(
      create(ClusterResourceStateSchema, {
        clusterResourceStateVersion: BigInt(Number.MAX_SAFE_INTEGER),
        nodeStates: [
          { nodeId: Buffer.from("0a0b", "hex"), idleDurationMs: 2n ** 40n + 5n, status: NodeStatus.DRAINING },
        ],
        pendingResourceRequests: [{ request: { resourcesBundle: { CPU: 0.5 } }, count: 1_000_000_000n }],
      }),
    );
    assert.equal(state.version, Number.MAX_SAFE_INTEGER);
    const [node] = state.nodes;
    assert.deepEqual([node.nodeId, node.idleDurationMs, node.status], ["0a0b", 2 ** 40 + 5, "DRAINING"]);
    assert.deepEqual(state.pendingResourceRequests, [
      { request: { resources: { CPU: 0.5 }, placementConstraints: [], labelSelectors: [] }, count: 1e9 },
    ]);
  });

  it("a node status a newer Ray adds reads as UNSPECIFIED", () => {
    const future = fromBinary(NodeStateSchema, Buffer.from("4009", "hex")); // status (field 8) = 9
    const state = toClusterResourceState(create(ClusterResourceStateSchema, { nodeStates: [future] }));
    assert.equal(state.nodes[0].status, "UNSPECIFIED");
  });

  it("round-trips arbitrary cluster states: typed → message → bytes → message → typed", () => {
    // Objects with Object's prototype, as ours are (fast-check's default is none).
    const plain = { noNullPrototype: true };
    const resources = fc.dictionary(
      fc.string({ minLength: 1, maxLength: 12 }),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      { maxKeys: 5, ...plain },
    );
    const labels = fc.dictionary(fc.string(), fc.string(), { maxKeys: 3, ...plain });
    const byCount: fc.Arbitrary<ResourceRequestByCountInfo> = fc.record(
      {
        request: fc.record(
          { resources, placementConstraints: fc.constant([]), labelSelectors: fc.constant([]) },
          plain,
        ),
        count: fc.integer({ min: 0, max: 1e9 }),
      },
      plain,
    );
    const node: fc.Arbitrary<RayNodeState> = fc.record(
      {
        nodeId: fc.uint8Array({ minLength: 0, maxLength: 28 }).map(hex),
        instanceId: fc.string(),
        rayNodeTypeName: fc.string(),
        instanceTypeName: fc.string(),
        nodeIpAddress: fc.string(),
        status: fc.constantFrom("UNSPECIFIED", "RUNNING", "DEAD", "IDLE", "DRAINING"),
        totalResources: resources,
        availableResources: resources,
        idleDurationMs: fc.integer({ min: 0, max: 2 ** 45 }),
        nodeActivity: fc.array(fc.string(), { maxLength: 3 }),
        labels,
        dynamicLabels: labels,
        nodeStateVersion: fc.integer({ min: 0, max: 1e6 }),
      },
      plain,
    );
    const state: fc.Arbitrary<ClusterResourceState> = fc.record(
      {
        version: fc.integer({ min: 0, max: 2 ** 40 }),
        lastSeenAutoscalerStateVersion: fc.integer({ min: 0, max: 1000 }),
        sessionName: fc.string(),
        nodes: fc.array(node, { maxLength: 4 }),
        pendingResourceRequests: fc.array(byCount, { maxLength: 3 }),
        pendingGangResourceRequests: fc.constant([]),
        clusterResourceConstraints: fc.array(fc.array(byCount, { maxLength: 2 }), { maxLength: 2 }),
      },
      plain,
    );
    fc.assert(
      fc.property(state, (typed) => {
        const bytes = toBinary(ClusterResourceStateSchema, toClusterResourceStateMessage(typed));
        const back = toClusterResourceState(fromBinary(ClusterResourceStateSchema, bytes));
        assert.deepEqual(back, typed);
      }),
      { numRuns: 200 },
    );
  });
});

/** The inverse of toClusterResourceState, for the round trip (gangs left out: their strategy is derived). */
function toClusterResourceStateMessage(state: ClusterResourceState) {
  const byCount = (entry: ResourceRequestByCountInfo) => ({
    request: { resourcesBundle: entry.request.resources },
    count: BigInt(entry.count),
  });
  return create(ClusterResourceStateSchema, {
    clusterResourceStateVersion: BigInt(state.version),
    lastSeenAutoscalerStateVersion: BigInt(state.lastSeenAutoscalerStateVersion),
    clusterSessionName: state.sessionName,
    nodeStates: state.nodes.map((node) => ({
      nodeId: Buffer.from(node.nodeId, "hex"),
      instanceId: node.instanceId,
      rayNodeTypeName: node.rayNodeTypeName,
      instanceTypeName: node.instanceTypeName,
      nodeIpAddress: node.nodeIpAddress,
      status: NodeStatus[node.status],
      totalResources: node.totalResources,
      availableResources: node.availableResources,
      idleDurationMs: BigInt(node.idleDurationMs),
      nodeActivity: node.nodeActivity,
      labels: node.labels,
      dynamicLabels: node.dynamicLabels,
      nodeStateVersion: BigInt(node.nodeStateVersion),
    })),
    pendingResourceRequests: state.pendingResourceRequests.map(byCount),
    clusterResourceConstraints: state.clusterResourceConstraints.map((constraint) => ({
      resourceRequests: constraint.map(byCount),
    })),
  });
}

// ---------------------------------------------------------------------------------------------
// The client against a fake GCS
// ---------------------------------------------------------------------------------------------

/** A unary handler of the fake GCS: the decoded request and its metadata in, the reply (or silence) out. */
type FakeHandler<Request extends DescMessage, Reply extends DescMessage> = (
  request: MessageShape<Request>,
  metadata: grpc.Metadata,
) => MessageInitShape<Reply> | "no answer";

/** Serves one generated method through the same definition (path, codec) the client calls it with. */
function serve<Request extends DescMessage, Reply extends DescMessage>(
  server: grpc.Server,
  method: UnaryMethod<Request, Reply>,
  handler: FakeHandler<Request, Reply>,
): void {
  const definition = grpcMethodDefinition(method);
  server.addService(
    { [method.name]: definition },
    {
      [method.name]: (
        call: grpc.ServerUnaryCall<MessageShape<Request>, MessageShape<Reply>>,
        callback: grpc.sendUnaryData<MessageShape<Reply>>,
      ) => {
        const reply = handler(call.request, call.metadata);
        if (reply !== "no answer") callback(null, create(method.output, reply));
      },
    },
  );
}

const FAKE_STATE: MessageInitShape<typeof ClusterResourceStateSchema> = {
  clusterResourceStateVersion: 42n,
  lastSeenAutoscalerStateVersion: 7n,
  clusterSessionName: "session_2026_x",
  nodeStates: [
    {
      nodeId: Buffer.from("ff00aa", "hex"),
      instanceId: "example-cluster-ray-worker-4hvv6",
      rayNodeTypeName: "worker-nodes",
      totalResources: { CPU: 1, Custom1: 1 },
      availableResources: { CPU: 0, Custom1: 1 },
      status: NodeStatus.RUNNING,
      idleDurationMs: 0n,
      nodeIpAddress: "10.0.0.5",
      nodeActivity: ["Resource: CPU currently in use."],
      labels: { "ray.io/node-group": "worker-nodes" },
    },
    {
      nodeId: Buffer.from("01", "hex"),
      status: NodeStatus.IDLE,
      idleDurationMs: 12345n,
      totalResources: { CPU: 1 },
      availableResources: { CPU: 1 },
    },
    { nodeId: Buffer.from("02", "hex"), status: NodeStatus.DEAD },
  ],
  pendingResourceRequests: [{ request: { resourcesBundle: { Custom1: 1 } }, count: 3n }],
  pendingGangResourceRequests: [
    {
      requests: [
        {
          resourcesBundle: { CPU: 4 },
          placementConstraints: [{ antiAffinity: { labelName: "_PG_ab", labelValue: "" } }],
        },
      ],
      details: "ab:STRICT_SPREAD|PENDING",
    },
    {
      requests: [
        { resourcesBundle: { CPU: 4 }, placementConstraints: [{ affinity: { labelName: "_PG_cd", labelValue: "" } }] },
      ],
      details: "cd:STRICT_PACK|PENDING",
    },
    { requests: [{ resourcesBundle: { CPU: 1 } }, { resourcesBundle: { CPU: 1 } }], details: "ef:SPREAD|PENDING" },
    { requests: [{ resourcesBundle: { CPU: 1 } }], details: "gh:PACK|PENDING" },
    // Ray ≥ 2.48: the bundles of the first bundle selector win over `requests`.
    {
      requests: [{ resourcesBundle: { CPU: 9 } }],
      bundleSelectors: [{ resourceRequests: [{ resourcesBundle: { GPU: 1 } }, { resourcesBundle: { GPU: 1 } }] }],
      details: "ij:PACK|PENDING",
    },
  ],
  clusterResourceConstraints: [
    {
      resourceRequests: [
        { request: { resourcesBundle: { CPU: 2 } }, count: 1n },
        { request: { resourcesBundle: { GPU: 1 } }, count: 4n },
      ],
    },
  ],
};

describe("autoscaler GCS client (fake GCS on loopback)", function () {
  let server: grpc.Server;
  let address: string;
  const seen: { reports: AutoscalingState[]; drains: DrainNodeRequest[]; auth: (string | undefined)[] } = {
    reports: [],
    drains: [],
    auth: [],
  };
  let stall = false;

  before(async () => {
    server = new grpc.Server();
    const rpc = AutoscalerStateService.method;
    serve(server, rpc.getClusterResourceState, (_request, metadata) => {
      const [authorization] = metadata.get("authorization");
      seen.auth.push(typeof authorization === "string" ? authorization : undefined);
      if (stall) return "no answer"; // the client's deadline must fire
      return { clusterResourceState: FAKE_STATE };
    });
    serve(server, rpc.reportAutoscalingState, (request) => {
      if (request.autoscalingState) seen.reports.push(request.autoscalingState);
      return {};
    });
    serve(server, rpc.drainNode, (request) => {
      seen.drains.push(request);
      const busy = hex(request.nodeId) === "ff00aa";
      return busy
        ? { isAccepted: false, rejectionReasonMessage: "The node to be idle terminated is no longer idle." }
        : { isAccepted: true };
    });
    const [port] = await freePorts(1);
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (e) =>
        e ? reject(e) : resolve(),
      ),
    );
    address = `127.0.0.1:${port}`;
  });

  after(() => server.forceShutdown());

  it("GetClusterResourceState: a typed state (hex node ids, statuses by name, strategies, constraints)", async () => {
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
      assert.deepEqual(s.nodes[0].labels, { "ray.io/node-group": "worker-nodes" });
      assert.deepEqual(
        s.pendingResourceRequests.map((r) => [r.request.resources, r.count]),
        [[{ Custom1: 1 }, 3]],
      );
      assert.deepEqual(
        s.pendingGangResourceRequests.map((g) => [g.strategy, g.bundles.map((b) => b.resources)]),
        [
          ["STRICT_SPREAD", [{ CPU: 4 }]],
          ["STRICT_PACK", [{ CPU: 4 }]],
          ["SPREAD", [{ CPU: 1 }, { CPU: 1 }]],
          ["PACK", [{ CPU: 1 }]],
          ["PACK", [{ GPU: 1 }, { GPU: 1 }]],
        ],
      );
      assert.deepEqual(s.pendingGangResourceRequests[0].bundles[0].placementConstraints, [
        { antiAffinity: { labelName: "_PG_ab", labelValue: "" } },
      ]);
      assert.deepEqual(
        s.clusterResourceConstraints.map((c) => c.map((r) => [r.request.resources, r.count])),
        [
          [
            [{ CPU: 2 }, 1],
            [{ GPU: 1 }, 4],
          ],
        ],
      );
      assert.equal(seen.auth.at(-1), "Bearer s3cret");
      // The typed state holds no bigint, so it can be logged as JSON.
      assert.doesNotThrow(() => JSON.stringify(s));
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
      const report = seen.reports.at(-1)!;
      assert.equal(report.lastSeenClusterResourceStateVersion, 42n);
      assert.equal(report.autoscalerStateVersion, 3n);
      assert.deepEqual(
        report.pendingInstanceRequests.map((p) => [p.instanceTypeName, p.rayNodeTypeName, p.count, p.requestTs]),
        [["worker-nodes", "worker-nodes", 2, 1000n]],
      );
      assert.deepEqual(
        report.pendingInstances.map((p) => [p.instanceTypeName, p.rayNodeTypeName, p.instanceId, p.ipAddress]),
        [["worker-nodes", "worker-nodes", "pod-x", ""]],
      );
      assert.deepEqual(report.infeasibleResourceRequests[0].resourcesBundle, { GPU: 8 });
      assert.equal(report.infeasibleGangResourceRequests[0].details, "too big");
      assert.deepEqual(report.infeasibleGangResourceRequests[0].requests[0].resourcesBundle, { CPU: 64 });
      const [constraint] = report.infeasibleClusterResourceConstraints;
      assert.deepEqual(
        constraint.resourceRequests.map((r) => [r.request?.resourcesBundle, r.count]),
        [[{ TPU: 1 }, 2n]],
      );
      assert.deepEqual(
        report.failedInstanceRequests.map((f) => [f.rayNodeTypeName, f.count, f.reason, f.startTs, f.failedTs]),
        [["worker-nodes", 1, "quota", 0n, 0n]],
      );
    } finally {
      gcs.close();
    }
  });

  it("DrainNode: node id from hex, IDLE_TERMINATION, the reply's acceptance and reason", async () => {
    const gcs = new GcsAutoscalerClient({ address });
    try {
      const idle = await gcs.drainNode({
        nodeId: "01",
        reason: "IDLE_TERMINATION",
        message: "idle 300 s",
        deadlineTimestampMs: 123,
      });
      assert.deepEqual(idle, { accepted: true, rejectionReason: "" });
      const request = seen.drains.at(-1)!;
      assert.deepEqual(
        [hex(request.nodeId), request.reason, request.reasonMessage, request.deadlineTimestampMs],
        ["01", DrainNodeReason.IDLE_TERMINATION, "idle 300 s", 123n],
      );
      const busy = await gcs.drainNode({ nodeId: Buffer.from("ff00aa", "hex"), reason: "PREEMPTION", message: "x" });
      assert.equal(busy.accepted, false);
      assert.match(busy.rejectionReason, /no longer idle/);
      assert.equal(seen.drains.at(-1)!.reason, DrainNodeReason.PREEMPTION);
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
        (e: unknown) => e,
      );
      assert.ok(err instanceof GcsError);
      assert.equal(err.code, grpc.status.DEADLINE_EXCEEDED);
      assert.equal(err.method, "GetClusterResourceState");
      assert.ok(err.unreachable);
      assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
      assert.match(err.message, /GetClusterResourceState: DEADLINE_EXCEEDED/);
    } finally {
      stall = false;
      gcs.close();
    }
  });

  it("a method the server does not serve fails with UNIMPLEMENTED, not as unreachable", async () => {
    const gcs = new GcsAutoscalerClient({ address });
    try {
      const err = await gcs.getClusterStatus().then(
        () => assert.fail("no error"),
        (e: unknown) => e,
      );
      assert.ok(err instanceof GcsError);
      assert.equal(err.code, grpc.status.UNIMPLEMENTED);
      assert.equal(err.unreachable, false);
      assert.ok(err.message.startsWith(`GCS ${address} GetClusterStatus: UNIMPLEMENTED`), err.message);
    } finally {
      gcs.close();
    }
  });

  it("a head that is down fails at once with UNAVAILABLE and the address in the message", async () => {
    const [port] = await freePorts(1); // nothing listens there
    const gcs = new GcsAutoscalerClient({ address: `127.0.0.1:${port}`, timeoutMs: 10_000 });
    try {
      const t0 = Date.now();
      const err = await gcs.getClusterResourceState().then(
        () => assert.fail("no error"),
        (e: unknown) => e,
      );
      assert.ok(err instanceof GcsError);
      assert.equal(err.code, grpc.status.UNAVAILABLE);
      assert.ok(err.unreachable);
      assert.ok(err.message.includes(`127.0.0.1:${port}`));
      assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms, not at once`);
    } finally {
      gcs.close();
    }
  });

  it("disconnect() drops the channel and the next call opens a new one", async () => {
    // A TCP relay in front of the server counts connections: a new channel is a new connection.
    let connections = 0;
    const relay = net.createServer((inbound) => {
      connections++;
      const [host, port] = address.split(":");
      const outbound = net.connect(Number(port), host);
      inbound.pipe(outbound).pipe(inbound);
      inbound.on("error", () => outbound.destroy());
      outbound.on("error", () => inbound.destroy());
    });
    const [port] = await freePorts(1);
    await new Promise<void>((resolve) => relay.listen(port, "127.0.0.1", resolve));
    const gcs = new GcsAutoscalerClient({ address: `127.0.0.1:${port}` });
    try {
      await gcs.getClusterResourceState();
      await gcs.getClusterResourceState();
      assert.equal(connections, 1, "calls in a row share one connection");
      gcs.disconnect();
      await gcs.getClusterResourceState();
      assert.equal(connections, 2, "a new connection after disconnect()");
    } finally {
      gcs.close();
      relay.close();
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
  const request = (resources: ResourceMap): ResourceRequestInfo => ({
    resources,
    placementConstraints: [],
    labelSelectors: [],
  });

  it("maps nodes by pod name, finds the head, prefers the live row of a restarted pod, flattens demand", () => {
    const state: ClusterResourceState = {
      version: 3,
      lastSeenAutoscalerStateVersion: 0,
      sessionName: "s",
      nodes: [
        node({
          nodeId: "01",
          instanceId: "c-ray-head-x",
          rayNodeTypeName: "head-node",
          totalResources: { CPU: 1, "node:__internal_head__": 1 },
        }),
        node({ nodeId: "02", instanceId: "c-ray-worker-a", rayNodeTypeName: "worker-nodes", status: "DEAD" }),
        node({
          nodeId: "03",
          instanceId: "c-ray-worker-a",
          rayNodeTypeName: "worker-nodes",
          status: "RUNNING",
          availableResources: { CPU: 0 },
          nodeActivity: ["busy"],
        }),
        node({ nodeId: "04", instanceId: "c-ray-worker-b", rayNodeTypeName: "worker-nodes", status: "RUNNING" }),
        node({ nodeId: "05", instanceId: "c-ray-worker-b", rayNodeTypeName: "worker-nodes", status: "DEAD" }),
        node({ nodeId: "06" }),
      ],
      pendingResourceRequests: [
        { request: request({ Custom1: 1 }), count: 3 },
        { request: request({ CPU: 1 }), count: 0 },
      ],
      pendingGangResourceRequests: [{ strategy: "STRICT_SPREAD", details: "", bundles: [request({ CPU: 2 })] }],
      clusterResourceConstraints: [[{ request: request({ CPU: 4 }), count: 2 }]],
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
    assert.deepEqual(seen.nodeIds, {
      "c-ray-head-x": "01",
      "c-ray-worker-a": "03",
      "c-ray-worker-b": "04",
      "ray-node-06": "06",
    });
    assert.deepEqual(seen.nodes[1].activity, ["busy"]);
    assert.deepEqual(seen.demands, [{ resources: { Custom1: 1 }, count: 3 }]);
    assert.deepEqual(seen.gangs, [{ strategy: "STRICT_SPREAD", bundles: [{ CPU: 2 }] }]);
    assert.deepEqual(seen.constraints, [{ resources: { CPU: 4 }, count: 2 }]);
  });
});
