// A stand-in for the heads' GCS in the autoscaler pass benchmark: one gRPC server per RayCluster,
// serving Ray's AutoscalerStateService over HTTP/2 as the real GCS does, with Ray's own recorded
// replies scaled up (scale.ts). It runs in a process of its own (pass.ts forks it), as a head's GCS
// runs apart from the operator: the operator's process pays for its own side of each call (gRPC,
// decoding, deciding, encoding the report), not for the server's.
//
//   GetClusterResourceState   the cluster's scaled-up state, encoded once (toBinary) and sent as bytes
//   ReportAutoscalingState    decoded (what the operator sent must be a valid AutoscalingState),
//                             answered with the recorded reply
//   DrainNode                 answered with the recorded accepted drain
// Any other method of the service is UNIMPLEMENTED: a pass that called one would show up as an error.
import * as grpc from "@grpc/grpc-js";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import {
  AutoscalerStateService,
  DrainNodeRequestSchema,
  GetClusterResourceStateReplySchema,
  GetClusterResourceStateRequestSchema,
  ReportAutoscalingStateRequestSchema,
} from "../../operator/autoscaler/gen/src/ray/protobuf/autoscaler_pb";
import { readRecording, Recording, scaledCluster } from "./scale";

/** What the parent asks for (fork argument, JSON). */
export interface FakeGcsSpec {
  clusters: string[];
  nodes: number;
  demands: number;
}

/** Messages from the fake GCS process to the parent. */
export type FakeGcsMessage =
  | { kind: "ready"; addresses: string[]; replyBytes: number; placementGroups: number; buildMs: number }
  | { kind: "stats"; calls: Record<string, number>; reportsDecoded: number };

/** Messages from the parent. */
export type FakeGcsCommand = { kind: "stats" } | { kind: "stop" };

const RPC = AutoscalerStateService.method;
const methodPath = (name: string) => `/${AutoscalerStateService.typeName}/${name}`;

/** A unary method whose request is decoded with the generated type and whose reply is already bytes. */
function bytesReplyMethod<Request extends DescMessage>(
  name: string,
  request: Request,
): grpc.MethodDefinition<MessageShape<Request>, Uint8Array> {
  return {
    path: methodPath(name),
    requestStream: false,
    responseStream: false,
    requestSerialize: (message: MessageShape<Request>) => Buffer.from(toBinary(request, message)),
    requestDeserialize: (bytes: Buffer) => fromBinary(request, bytes),
    responseSerialize: (reply: Uint8Array) => Buffer.from(reply.buffer, reply.byteOffset, reply.byteLength),
    responseDeserialize: (bytes: Buffer) => new Uint8Array(bytes),
  };
}

interface Counters {
  calls: Record<string, number>;
  reportsDecoded: number;
}

/** Starts one server for one cluster's state; resolves to its address. */
async function serveCluster(stateReply: Uint8Array, recording: Recording, counters: Counters): Promise<grpc.Server> {
  const server = new grpc.Server({ "grpc.max_send_message_length": 256 * 1024 * 1024 });
  const count = (name: string) => (counters.calls[name] = (counters.calls[name] ?? 0) + 1);
  const get = bytesReplyMethod(RPC.getClusterResourceState.name, GetClusterResourceStateRequestSchema);
  const report = bytesReplyMethod(RPC.reportAutoscalingState.name, ReportAutoscalingStateRequestSchema);
  const drain = bytesReplyMethod(RPC.drainNode.name, DrainNodeRequestSchema);
  server.addService(
    { [get.path]: get, [report.path]: report, [drain.path]: drain },
    {
      [get.path]: (_call: grpc.ServerUnaryCall<unknown, Uint8Array>, done: grpc.sendUnaryData<Uint8Array>) => {
        count(RPC.getClusterResourceState.name);
        done(null, stateReply);
      },
      [report.path]: (
        call: grpc.ServerUnaryCall<MessageShape<typeof ReportAutoscalingStateRequestSchema>, Uint8Array>,
        done: grpc.sendUnaryData<Uint8Array>,
      ) => {
        count(RPC.reportAutoscalingState.name);
        if (call.request.autoscalingState) counters.reportsDecoded++;
        done(null, recording.reportReply);
      },
      [drain.path]: (_call: grpc.ServerUnaryCall<unknown, Uint8Array>, done: grpc.sendUnaryData<Uint8Array>) => {
        count(RPC.drainNode.name);
        done(null, recording.drainAccepted);
      },
    },
  );
  return server;
}

async function bind(server: grpc.Server): Promise<string> {
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  return `127.0.0.1:${port}`;
}

/** Builds every cluster's state, starts a server for each, and tells the parent their addresses. */
async function main(spec: FakeGcsSpec): Promise<void> {
  const send = (message: FakeGcsMessage) => process.send!(message);
  const t0 = performance.now();
  const recording = readRecording();
  const counters: Counters = { calls: {}, reportsDecoded: 0 };
  const servers: grpc.Server[] = [];
  const addresses: string[] = [];
  let replyBytes = 0;
  let placementGroups = 0;
  for (const name of spec.clusters) {
    const scaled = scaledCluster(recording, name, spec.nodes, spec.demands);
    const bytes = toBinary(GetClusterResourceStateReplySchema, scaled.reply);
    replyBytes = bytes.byteLength;
    placementGroups = scaled.placementGroups;
    const server = await serveCluster(bytes, recording, counters);
    servers.push(server);
    addresses.push(await bind(server));
  }
  send({ kind: "ready", addresses, replyBytes, placementGroups, buildMs: performance.now() - t0 });
  process.on("message", (command: FakeGcsCommand) => {
    if (command.kind === "stats") send({ kind: "stats", ...counters });
    else {
      for (const s of servers) s.forceShutdown();
      process.disconnect();
    }
  });
  // The parent gone (killed, crashed): so is this process.
  process.on("disconnect", () => process.exit(0));
}

if (require.main === module) {
  main(JSON.parse(process.argv[2]) as FakeGcsSpec).catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
