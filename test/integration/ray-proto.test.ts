// Our hand-written schemas of Ray's autoscaler protocol (operator/autoscaler/autoscaler-proto.ts)
// against the real thing: the descriptor the pinned Ray wheel ships (ray/core/generated/
// autoscaler_pb2.py and common_pb2.py), field by field, and messages passed both ways between our
// codec and Ray's generated protobuf classes.
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import { ALL_SCHEMAS, AUTOSCALER_SERVICE, DrainNodeRequest, GetClusterResourceStateReply, ReportAutoscalingStateRequest } from "../../operator/autoscaler/autoscaler-proto";
import { fromAutoscalingStateReport } from "../../operator/autoscaler/gcs-client";
import { decodeMessage, Decoded, encodeMessage, FieldSchema, MessageSchema } from "../../operator/autoscaler/protowire";
import { rayPython, rayVenv } from "../support/ray";

const DUMP = `
import json
from google.protobuf import descriptor_pb2 as d
from ray.core.generated import autoscaler_pb2, common_pb2
out = {"messages": {}, "services": {}}
T = {v: k for k, v in d.FieldDescriptorProto.Type.items()}
def walk(pool_file):
    for m in pool_file.message_types_by_name.values():
        stack = [m]
        while stack:
            x = stack.pop()
            stack.extend(x.nested_types)
            fields = []
            for f in x.fields:
                t = T[f.type][5:].lower()
                entry = None
                if f.message_type is not None and f.message_type.GetOptions().map_entry:
                    k, v = f.message_type.fields_by_name["key"], f.message_type.fields_by_name["value"]
                    entry = [T[k.type][5:].lower(), T[v.type][5:].lower()]
                fields.append({"name": f.name, "number": f.number, "type": t,
                               "repeated": f.is_repeated,
                               "type_name": f.message_type.full_name if f.message_type else (f.enum_type.full_name if f.enum_type else None),
                               "map": entry})
            out["messages"][x.full_name] = fields
walk(autoscaler_pb2.DESCRIPTOR)
walk(common_pb2.DESCRIPTOR)
for s in autoscaler_pb2.DESCRIPTOR.services_by_name.values():
    out["services"][s.full_name] = {m.name: [m.input_type.full_name, m.output_type.full_name] for m in s.methods}
print(json.dumps(out))
`;

// Python side of the round trip: parse our bytes with Ray's class and print them as JSON; or build a
// message from JSON with Ray's class and print its bytes.
const ROUND_TRIP = `
import base64, json, sys
from google.protobuf import json_format
from ray.core.generated import autoscaler_pb2
req = json.load(sys.stdin)
cls = getattr(autoscaler_pb2, req["type"])
if req["op"] == "parse":
    m = cls()
    m.ParseFromString(base64.b64decode(req["data"]))
    print(json_format.MessageToJson(m, preserving_proto_field_name=True, always_print_fields_with_no_presence=False))
else:
    m = json_format.ParseDict(req["data"], cls())
    print(base64.b64encode(m.SerializeToString()).decode())
`;

function python(script: string, stdin?: string): string {
  return execFileSync(rayPython(), ["-c", script], { input: stdin, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
}

interface DescField {
  name: string;
  number: number;
  type: string;
  repeated: boolean;
  type_name: string | null;
  map: [string, string] | null;
}

describe("Ray wire protocol: our schemas against the Ray wheel's descriptor", function () {
  this.timeout(15 * 60_000); // the first run creates the Ray venv
  let desc: { messages: Record<string, DescField[]>; services: Record<string, Record<string, [string, string]>> };

  before(() => {
    rayVenv();
    desc = JSON.parse(python(DUMP));
  });

  it("every message we use exists, with every field: same names, numbers, types, cardinality", () => {
    for (const schema of ALL_SCHEMAS) {
      const theirs = desc.messages[schema.fullName];
      assert.ok(theirs, `${schema.fullName} not in Ray's descriptor`);
      const byNumber = new Map(theirs.map((f) => [f.number, f]));
      for (const f of schema.fields) {
        const t = byNumber.get(f.no);
        assert.ok(t, `${schema.fullName}.${f.name} = ${f.no}: no such field number in Ray`);
        assert.equal(t.name, f.name, `${schema.fullName} field ${f.no}`);
        checkType(schema, f, t);
      }
      // We claim to list every field (so none is silently lost when we re-encode).
      assert.deepEqual(
        theirs.map((f) => f.number).sort((a, b) => a - b),
        schema.fields.map((f) => f.no).sort((a, b) => a - b),
        `${schema.fullName}: fields differ from Ray's`,
      );
    }
  });

  it("the service and the methods we call, with their request and reply types", () => {
    const svc = desc.services[AUTOSCALER_SERVICE];
    assert.ok(svc, `${AUTOSCALER_SERVICE} not in Ray's descriptor`);
    assert.deepEqual(svc.GetClusterResourceState, ["ray.rpc.autoscaler.GetClusterResourceStateRequest", "ray.rpc.autoscaler.GetClusterResourceStateReply"]);
    assert.deepEqual(svc.ReportAutoscalingState, ["ray.rpc.autoscaler.ReportAutoscalingStateRequest", "ray.rpc.autoscaler.ReportAutoscalingStateReply"]);
    assert.deepEqual(svc.DrainNode, ["ray.rpc.autoscaler.DrainNodeRequest", "ray.rpc.autoscaler.DrainNodeReply"]);
    assert.deepEqual(svc.GetClusterStatus, ["ray.rpc.autoscaler.GetClusterStatusRequest", "ray.rpc.autoscaler.GetClusterStatusReply"]);
  });

  it("Ray's classes read what we write", () => {
    const report = fromAutoscalingStateReport({
      lastSeenClusterResourceStateVersion: 12,
      autoscalerStateVersion: 3,
      pendingInstanceRequests: [{ rayNodeTypeName: "worker-nodes", count: 2, requestTsMs: 1_700_000_000_000 }],
      pendingInstances: [{ rayNodeTypeName: "worker-nodes", instanceId: "example-cluster-ray-worker-abcde", ipAddress: "10.0.0.9" }],
      infeasibleResourceRequests: [{ GPU: 8, CPU: 0.5 }],
    });
    const bytes = encodeMessage(ReportAutoscalingStateRequest, { autoscaling_state: report });
    const parsed = JSON.parse(python(ROUND_TRIP, JSON.stringify({ op: "parse", type: "ReportAutoscalingStateRequest", data: bytes.toString("base64") })));
    const s = parsed.autoscaling_state;
    assert.equal(s.last_seen_cluster_resource_state_version, "12"); // int64 as a JSON string
    assert.equal(s.autoscaler_state_version, "3");
    assert.deepEqual(s.pending_instance_requests, [{ instance_type_name: "worker-nodes", ray_node_type_name: "worker-nodes", count: 2, request_ts: "1700000000000" }]);
    assert.deepEqual(s.pending_instances, [{ instance_type_name: "worker-nodes", ray_node_type_name: "worker-nodes", instance_id: "example-cluster-ray-worker-abcde", ip_address: "10.0.0.9" }]);
    assert.deepEqual(s.infeasible_resource_requests, [{ resources_bundle: { GPU: 8, CPU: 0.5 } }]);

    const drain = encodeMessage(DrainNodeRequest, { node_id: Buffer.from("a1f030ce", "hex"), reason: 1, reason_message: "idle for 300 s", deadline_timestamp_ms: 1_700_000_000_123 });
    const d = JSON.parse(python(ROUND_TRIP, JSON.stringify({ op: "parse", type: "DrainNodeRequest", data: drain.toString("base64") })));
    assert.deepEqual(d, { node_id: Buffer.from("a1f030ce", "hex").toString("base64"), reason: "DRAIN_NODE_REASON_IDLE_TERMINATION", reason_message: "idle for 300 s", deadline_timestamp_ms: "1700000000123" });
  });

  it("we read what Ray's classes write", () => {
    const data = {
      cluster_resource_state: {
        cluster_resource_state_version: "7",
        node_states: [
          {
            node_id: Buffer.from("0102ff", "hex").toString("base64"),
            instance_id: "example-cluster-ray-worker-4hvv6",
            ray_node_type_name: "worker-nodes",
            available_resources: { CPU: 0.5, Custom1: 1 },
            total_resources: { CPU: 1, Custom1: 1, is_spot: 1 },
            status: "IDLE",
            idle_duration_ms: "65000",
            node_ip_address: "10.1.0.7",
            node_activity: ["Resource: CPU currently in use."],
            labels: { "ray.io/node-group": "worker-nodes" },
          },
        ],
        pending_resource_requests: [{ request: { resources_bundle: { Custom1: 1 } }, count: "10000" }],
        pending_gang_resource_requests: [
          { requests: [{ resources_bundle: { CPU: 4 }, placement_constraints: [{ anti_affinity: { label_name: "_PG_x" } }] }], details: "x:STRICT_SPREAD|PENDING" },
        ],
        cluster_resource_constraints: [{ resource_requests: [{ request: { resources_bundle: { CPU: 2 } }, count: "3" }] }],
        cluster_session_name: "session_2026-11-27",
      },
    };
    const b64 = python(ROUND_TRIP, JSON.stringify({ op: "build", type: "GetClusterResourceStateReply", data })).trim();
    const reply = decodeMessage(GetClusterResourceStateReply, Buffer.from(b64, "base64"));
    const s = reply.cluster_resource_state as Decoded;
    assert.equal(s.cluster_resource_state_version, 7);
    assert.equal(s.cluster_session_name, "session_2026-11-27");
    const n = (s.node_states as Decoded[])[0];
    assert.equal((n.node_id as Buffer).toString("hex"), "0102ff");
    assert.equal(n.instance_id, "example-cluster-ray-worker-4hvv6");
    assert.equal(n.ray_node_type_name, "worker-nodes");
    assert.deepEqual(n.available_resources, { CPU: 0.5, Custom1: 1 });
    assert.deepEqual(n.total_resources, { CPU: 1, Custom1: 1, is_spot: 1 });
    assert.equal(n.status, 3);
    assert.equal(n.idle_duration_ms, 65000);
    assert.deepEqual(n.node_activity, ["Resource: CPU currently in use."]);
    assert.deepEqual(n.labels, { "ray.io/node-group": "worker-nodes" });
    const p = (s.pending_resource_requests as Decoded[])[0];
    assert.equal(p.count, 10000);
    assert.deepEqual((p.request as Decoded).resources_bundle, { Custom1: 1 });
    const g = (s.pending_gang_resource_requests as Decoded[])[0];
    assert.equal(((((g.requests as Decoded[])[0].placement_constraints as Decoded[])[0].anti_affinity as Decoded).label_name), "_PG_x");
    assert.equal((((s.cluster_resource_constraints as Decoded[])[0].resource_requests as Decoded[])[0]).count, 3);
    // And what we re-encode, Ray reads back as the message it wrote (nothing lost, nothing changed).
    const again = encodeMessage(GetClusterResourceStateReply, { cluster_resource_state: s }).toString("base64");
    const back = JSON.parse(python(ROUND_TRIP, JSON.stringify({ op: "parse", type: "GetClusterResourceStateReply", data: again })));
    assert.deepEqual(back, data);
  });
});

const SCALAR_TYPES: Record<string, string> = {
  string: "string",
  bytes: "bytes",
  double: "double",
  float: "float",
  int32: "int32",
  int64: "int64",
  uint32: "uint32",
  uint64: "uint64",
  bool: "bool",
  enum: "enum",
};

function checkType(schema: MessageSchema, f: FieldSchema, t: DescField): void {
  const where = `${schema.fullName}.${f.name}`;
  const ft = f.type;
  if (typeof ft === "object" && "map" in ft) {
    assert.ok(t.map, `${where}: Ray's is not a map`);
    assert.deepEqual(ft.map, t.map, `${where}: map key/value types`);
    return;
  }
  assert.equal(!!f.repeated, t.repeated, `${where}: repeated`);
  if (typeof ft === "object") {
    assert.equal(t.type, "message", `${where}: Ray's is ${t.type}`);
    assert.equal(ft.message().fullName, t.type_name, `${where}: message type`);
    return;
  }
  assert.equal(SCALAR_TYPES[ft], t.type, `${where}: Ray's type is ${t.type}`);
}
