// The generated TypeScript of Ray's autoscaler protocol (operator/autoscaler/gen/) against the pinned
// Ray wheel: the committed files must be what scripts/proto/generate.sh makes from the wheel now (so a
// Ray bump, or a generator bump, that changes them fails here until they are regenerated), the
// descriptors they embed must be the wheel's, and real messages must pass both ways between our
// code and Ray's own Python classes (ray/core/generated/autoscaler_pb2.py).
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join, relative, resolve } from "path";
import { clearField, clone, create, fromBinary, toBinary, toJson } from "@bufbuild/protobuf";
import type { DescFile } from "@bufbuild/protobuf";
import { FieldDescriptorProtoSchema, FileDescriptorProtoSchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import type { DescriptorProto, FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import { fromAutoscalingStateReport, toClusterResourceState } from "../../operator/autoscaler/gcs-client";
import {
  DrainNodeReason,
  DrainNodeRequestSchema,
  file_src_ray_protobuf_autoscaler,
  GetClusterResourceStateReplySchema,
  ReportAutoscalingStateRequestSchema,
} from "../../operator/autoscaler/gen/src/ray/protobuf/autoscaler_pb";
import { rayPython, rayVenv } from "../support/ray";

const REPO = resolve(__dirname, "../..");
const GENERATED_DIR = join(REPO, "operator/autoscaler/gen");

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

interface RoundTripRequest {
  op: "parse" | "build";
  /** A message of ray.core.generated.autoscaler_pb2. */
  type: string;
  /** parse: the message's bytes, base64; build: the message as protobuf JSON (proto field names). */
  data: string | object;
}

function rayRoundTrip(request: RoundTripRequest): string {
  return execFileSync(rayPython(), ["-c", ROUND_TRIP], {
    input: JSON.stringify(request),
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
}

const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");

/** Every *_pb.ts below `dir`, by path relative to it, sorted. */
function generatedFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((path) => path.endsWith("_pb.ts"))
    .sort();
}

/** The file and every file it imports, transitively (each once), by .proto path. */
function withImports(file: DescFile, seen = new Map<string, DescFile>()): Map<string, DescFile> {
  if (!seen.has(file.proto.name)) {
    seen.set(file.proto.name, file);
    for (const imported of file.dependencies) withImports(imported, seen);
  }
  return seen;
}

/**
 * A FileDescriptorProto without what may differ without changing the protocol: source info and JSON
 * names (protoc fills those in for some consumers, and protoc-gen-es leaves out the derivable ones).
 */
function comparable(file: FileDescriptorProto): object {
  const copy = clone(FileDescriptorProtoSchema, file);
  clearField(copy, FileDescriptorProtoSchema.field.sourceCodeInfo);
  const clearJsonNames = (message: DescriptorProto): void => {
    for (const field of message.field) clearField(field, FieldDescriptorProtoSchema.field.jsonName);
    message.nestedType.forEach(clearJsonNames);
  };
  copy.messageType.forEach(clearJsonNames);
  return toJson(FileDescriptorProtoSchema, copy) as object;
}

describe("Ray wire protocol: the generated code against the pinned Ray wheel", function () {
  this.timeout(15 * 60_000); // the first run creates the Ray venv

  before(() => {
    rayVenv();
  });

  it("the committed operator/autoscaler/gen/ is what scripts/proto/generate.sh makes from the wheel", () => {
    const fresh = mkdtempSync(join(tmpdir(), "ray-proto-gen-"));
    try {
      execFileSync("bash", [join(REPO, "scripts/proto/generate.sh"), fresh], {
        stdio: ["ignore", "inherit", "inherit"],
        timeout: 5 * 60_000,
      });
      const hint = "regenerate with `npm run proto:generate` and commit the result";
      assert.deepEqual(generatedFiles(GENERATED_DIR), generatedFiles(fresh), `the generated files differ: ${hint}`);
      for (const path of generatedFiles(fresh)) {
        const committed = readFileSync(join(GENERATED_DIR, path), "utf8").split("\n");
        const expected = readFileSync(join(fresh, path), "utf8").split("\n");
        const firstDifference = expected.findIndex((line, i) => committed[i] !== line);
        const where = `${relative(REPO, join(GENERATED_DIR, path))}:${firstDifference + 1}`;
        assert.ok(firstDifference === -1 && committed.length === expected.length, `${where} differs: ${hint}`);
      }
    } finally {
      rmSync(fresh, { recursive: true, force: true });
    }
  });

  it("the descriptors embedded in the generated code are the wheel's, file by file", () => {
    const wheelBytes = execFileSync(rayPython(), [join(REPO, "scripts/proto/ray_descriptors.py")], {
      maxBuffer: 64 * 1024 * 1024,
    });
    const wheelFiles = fromBinary(FileDescriptorSetSchema, wheelBytes).file;
    const embedded = withImports(file_src_ray_protobuf_autoscaler);
    assert.deepEqual([...embedded.keys()].sort(), wheelFiles.map((f) => f.name).sort());
    for (const wheelFile of wheelFiles) {
      const ours = embedded.get(wheelFile.name)!;
      assert.deepEqual(comparable(ours.proto), comparable(wheelFile), `${wheelFile.name} differs from the wheel's`);
    }
  });

  it("Ray's classes read what we write", () => {
    const report = fromAutoscalingStateReport({
      lastSeenClusterResourceStateVersion: 12,
      autoscalerStateVersion: 3,
      pendingInstanceRequests: [{ rayNodeTypeName: "worker-nodes", count: 2, requestTsMs: 1_700_000_000_000 }],
      pendingInstances: [
        { rayNodeTypeName: "worker-nodes", instanceId: "example-cluster-ray-worker-abcde", ipAddress: "10.0.0.9" },
      ],
      infeasibleResourceRequests: [{ GPU: 8, CPU: 0.5 }],
      infeasibleGangResourceRequests: [{ bundles: [{ CPU: 64 }], details: "too big" }],
      infeasibleClusterResourceConstraints: [[{ resources: { TPU: 1 }, count: 2 }]],
      failedInstanceRequests: [{ rayNodeTypeName: "big-nodes", count: 1, reason: "quota", failedTsMs: 5 }],
    });
    const request = create(ReportAutoscalingStateRequestSchema, { autoscalingState: report });
    const bytes = toBinary(ReportAutoscalingStateRequestSchema, request);
    const parsed = JSON.parse(
      rayRoundTrip({ op: "parse", type: "ReportAutoscalingStateRequest", data: base64(bytes) }),
    );
    assert.deepEqual(parsed.autoscaling_state, {
      last_seen_cluster_resource_state_version: "12", // int64s are JSON strings
      autoscaler_state_version: "3",
      pending_instance_requests: [
        {
          instance_type_name: "worker-nodes",
          ray_node_type_name: "worker-nodes",
          count: 2,
          request_ts: "1700000000000",
        },
      ],
      pending_instances: [
        {
          instance_type_name: "worker-nodes",
          ray_node_type_name: "worker-nodes",
          instance_id: "example-cluster-ray-worker-abcde",
          ip_address: "10.0.0.9",
        },
      ],
      infeasible_resource_requests: [{ resources_bundle: { GPU: 8, CPU: 0.5 } }],
      infeasible_gang_resource_requests: [{ requests: [{ resources_bundle: { CPU: 64 } }], details: "too big" }],
      infeasible_cluster_resource_constraints: [
        { resource_requests: [{ request: { resources_bundle: { TPU: 1 } }, count: "2" }] },
      ],
      failed_instance_requests: [
        { instance_type_name: "big-nodes", ray_node_type_name: "big-nodes", count: 1, reason: "quota", failed_ts: "5" },
      ],
    });

    const drain = create(DrainNodeRequestSchema, {
      nodeId: Buffer.from("a1f030ce", "hex"),
      reason: DrainNodeReason.IDLE_TERMINATION,
      reasonMessage: "idle for 300 s",
      deadlineTimestampMs: 1_700_000_000_123n,
    });
    const drainBytes = toBinary(DrainNodeRequestSchema, drain);
    const d = JSON.parse(rayRoundTrip({ op: "parse", type: "DrainNodeRequest", data: base64(drainBytes) }));
    assert.deepEqual(d, {
      node_id: Buffer.from("a1f030ce", "hex").toString("base64"),
      reason: "DRAIN_NODE_REASON_IDLE_TERMINATION",
      reason_message: "idle for 300 s",
      deadline_timestamp_ms: "1700000000123",
    });
  });

  it("we read what Ray's classes write, and write it back unchanged", () => {
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
          {
            requests: [
              { resources_bundle: { CPU: 4 }, placement_constraints: [{ anti_affinity: { label_name: "_PG_x" } }] },
            ],
            details: "x:STRICT_SPREAD|PENDING",
          },
        ],
        cluster_resource_constraints: [
          { resource_requests: [{ request: { resources_bundle: { CPU: 2 } }, count: "3" }] },
        ],
        cluster_session_name: "session_2026-11-27",
      },
    };
    const b64 = rayRoundTrip({ op: "build", type: "GetClusterResourceStateReply", data }).trim();
    const reply = fromBinary(GetClusterResourceStateReplySchema, Buffer.from(b64, "base64"));
    const s = toClusterResourceState(reply.clusterResourceState!);
    assert.equal(s.version, 7);
    assert.equal(s.sessionName, "session_2026-11-27");
    assert.deepEqual(s.nodes, [
      {
        nodeId: "0102ff",
        instanceId: "example-cluster-ray-worker-4hvv6",
        rayNodeTypeName: "worker-nodes",
        instanceTypeName: "",
        nodeIpAddress: "10.1.0.7",
        status: "IDLE",
        totalResources: { CPU: 1, Custom1: 1, is_spot: 1 },
        availableResources: { CPU: 0.5, Custom1: 1 },
        idleDurationMs: 65000,
        nodeActivity: ["Resource: CPU currently in use."],
        labels: { "ray.io/node-group": "worker-nodes" },
        dynamicLabels: {},
        nodeStateVersion: 0,
      },
    ]);
    assert.deepEqual(
      s.pendingResourceRequests.map((r) => [r.request.resources, r.count]),
      [[{ Custom1: 1 }, 10000]],
    );
    const [gang] = s.pendingGangResourceRequests;
    assert.equal(gang.strategy, "STRICT_SPREAD");
    assert.deepEqual(gang.bundles[0].placementConstraints, [{ antiAffinity: { labelName: "_PG_x", labelValue: "" } }]);
    assert.deepEqual(
      s.clusterResourceConstraints.map((c) => c.map((r) => [r.request.resources, r.count])),
      [[[{ CPU: 2 }, 3]]],
    );
    // And what we re-encode, Ray reads back as the message it wrote (nothing lost, nothing changed).
    const again = base64(toBinary(GetClusterResourceStateReplySchema, reply));
    const back = JSON.parse(rayRoundTrip({ op: "parse", type: "GetClusterResourceStateReply", data: again }));
    assert.deepEqual(back, data);
  });
});
