// Records what a real Ray head's GCS answers to the autoscaler's calls, for the autoscaler pass
// benchmark (pass.ts, which scales it up with scale.ts and serves it with fake-gcs.ts).
//
//   npx ts-node bench/autoscaler/record.ts     # writes bench/autoscaler/recorded/*.bin (~2 minutes)
//
// With the pinned `ray` (scripts/toolchain/ray.sh): a head and five workers started as the pods of
// pass-cluster.ts start them (RAY_CLOUD_INSTANCE_ID = the pod's name, RAY_NODE_TYPE_NAME, and the
// RAY_OVERRIDE_RESOURCES buildPod gives each type), some of them busy with actors, and a driver whose
// tasks, actors and placement groups ask for more than the free nodes have, plus request_resources().
// Then one real pass of the operator's autoscaler (ClusterAutoscaler.step, what the loop calls) runs
// against the head through a recording proxy, and two drains (one refused, of a busy node; one
// accepted, of an idle one): every reply is saved as the GCS sent it, as binary protobuf.
import { mkdirSync, writeFileSync } from "fs";
import { join } from "path";
import * as grpc from "@grpc/grpc-js";
import { fromBinary } from "@bufbuild/protobuf";
import { defaulted } from "../../api/v1/defaults";
import { nodeTypeResources } from "../../builders/resources";
import { ClusterAutoscaler } from "../../operator/autoscaler/autoscaler";
import { ClusterResourceState, GcsAutoscalerClient } from "../../operator/autoscaler/gcs-client";
import {
  AutoscalerStateService,
  GetClusterResourceStateReplySchema,
} from "../../operator/autoscaler/gen/src/ray/protobuf/autoscaler_pb";
import { autoscalingSpec } from "../../operator/autoscaler/loop";
import { LocalRayCluster, RayDriver, rayPython } from "../../test/support/ray";
import { execFileSync } from "child_process";
import { HEAD_TYPE, passCluster, podName, rayPodEnv } from "./pass-cluster";
import { RECORDED_DIR, RECORDED_FILES } from "./scale";

const CLUSTER = "recorded";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (line: string) => console.error(`[record] ${line}`);

/** The Ray nodes, as pods of the pass cluster: index 0 is the head. */
const NODES = [
  { type: HEAD_TYPE, kind: "head" as const },
  { type: "worker-nodes", kind: "worker" as const },
  { type: "worker-nodes", kind: "worker" as const },
  { type: "worker-nodes", kind: "worker" as const },
  { type: "cpu-4", kind: "worker" as const },
  { type: "cpu-4", kind: "worker" as const },
].map((n, index) => ({ ...n, name: podName(CLUSTER, n.type, n.kind, index) }));

/**
 * The demand. First actors that keep nodes busy: two of the three small workers (Custom1), a whole
 * cpu-4 and 3 CPUs of the other; the head and one small worker stay idle. Then work no free node can
 * take (every free node has 1 CPU left at most): tasks and actors of 2 and 4 CPUs, tasks with
 * memory, tasks wanting a GPU (no type has one: infeasible), placement groups of each strategy (the
 * STRICT_PACK one holds 8 CPUs: infeasible), and request_resources().
 */
const DRIVER = `
from ray.util.placement_group import placement_group
from ray.autoscaler.sdk import request_resources

@ray.remote
class Holder:
    def ping(self):
        return 1

holders = [
    Holder.options(num_cpus=1, resources={"Custom1": 1}).remote(),
    Holder.options(num_cpus=1, resources={"Custom1": 1}).remote(),
    Holder.options(num_cpus=4).remote(),
    Holder.options(num_cpus=3).remote(),
]
ray.get([h.ping.remote() for h in holders])
print("HELD", flush=True)

@ray.remote
def wait_forever():
    time.sleep(3600)

pending = [wait_forever.options(num_cpus=2).remote() for _ in range(30)]
pending += [wait_forever.options(num_cpus=4).remote() for _ in range(20)]
pending += [wait_forever.options(num_cpus=2, memory=4 * 1024**3).remote() for _ in range(10)]
pending += [wait_forever.options(num_cpus=1, num_gpus=1).remote() for _ in range(3)]
waiting_actors = [Holder.options(num_cpus=2).remote() for _ in range(5)]
pgs = [
    placement_group([{"CPU": 2}] * 3, strategy="STRICT_SPREAD"),
    placement_group([{"CPU": 4}, {"CPU": 4}], strategy="STRICT_PACK"),
    placement_group([{"CPU": 2}, {"CPU": 2}], strategy="PACK"),
    placement_group([{"CPU": 3}, {"CPU": 3}], strategy="SPREAD"),
]
request_resources(bundles=[{"CPU": 4}] * 8)
print("PENDING", flush=True)
time.sleep(3600)
`;

/**
 * A gRPC proxy in front of the GCS that keeps every reply of the autoscaler service as bytes: what
 * the operator's client asks, the GCS answers, and the recording holds exactly that.
 */
class RecordingProxy {
  readonly replies = new Map<string, Buffer[]>();
  private readonly server = new grpc.Server();
  private readonly upstream: grpc.Client;
  address = "";

  constructor(upstreamAddress: string) {
    this.upstream = new grpc.Client(upstreamAddress, grpc.credentials.createInsecure(), {
      "grpc.max_receive_message_length": 64 * 1024 * 1024,
    });
    const asIs = (bytes: Buffer) => bytes;
    const definitions: Record<string, grpc.MethodDefinition<Buffer, Buffer>> = {};
    const handlers: grpc.UntypedServiceImplementation = {};
    for (const method of AutoscalerStateService.methods) {
      const path = `/${AutoscalerStateService.typeName}/${method.name}`;
      definitions[path] = {
        path,
        requestStream: false,
        responseStream: false,
        requestSerialize: asIs,
        requestDeserialize: asIs,
        responseSerialize: asIs,
        responseDeserialize: asIs,
      };
      const forward: grpc.handleUnaryCall<Buffer, Buffer> = (call, done) =>
        this.upstream.makeUnaryRequest<Buffer, Buffer>(
          path,
          asIs,
          asIs,
          call.request,
          call.metadata,
          { deadline: Date.now() + 30_000 },
          (error, reply) => {
            if (error || !reply) return done(error);
            this.replies.set(method.name, [...(this.replies.get(method.name) ?? []), reply]);
            done(null, reply);
          },
        );
      handlers[path] = forward;
    }
    this.server.addService(definitions, handlers);
  }

  async start(): Promise<void> {
    const port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) =>
        e ? reject(e) : resolve(p),
      ),
    );
    this.address = `127.0.0.1:${port}`;
  }

  /** The only reply of a method this recording made once. */
  only(method: string): Buffer {
    const replies = this.replies.get(method) ?? [];
    if (replies.length !== 1) throw new Error(`${method}: ${replies.length} replies recorded, expected 1`);
    return replies[0];
  }

  stop(): void {
    this.server.forceShutdown();
    this.upstream.close();
  }
}

/** Polls the GCS until `ready` holds twice in a row, 2 s apart, with the same pending demand. */
async function settled(
  gcs: GcsAutoscalerClient,
  what: string,
  ready: (s: ClusterResourceState) => boolean,
): Promise<ClusterResourceState> {
  const deadline = Date.now() + 180_000;
  const demandOf = (s: ClusterResourceState) =>
    JSON.stringify([
      s.nodes.map((n) => [n.instanceId, n.status]).sort(),
      s.pendingResourceRequests.map((r) => [r.request.resources, r.count]),
      s.pendingGangResourceRequests.map((g) => g.details).sort(),
      s.clusterResourceConstraints,
    ]);
  let previous = "";
  while (Date.now() < deadline) {
    const s = await gcs.getClusterResourceState();
    const now = demandOf(s);
    if (ready(s) && now === previous) return s;
    previous = ready(s) ? now : "";
    await sleep(2000);
  }
  throw new Error(`timed out waiting for ${what}`);
}

function summary(s: ClusterResourceState): string[] {
  return [
    ...s.nodes.map(
      (n) =>
        `node ${n.instanceId} ${n.rayNodeTypeName} ${n.status} idle ${n.idleDurationMs} ms ` +
        `total ${JSON.stringify(n.totalResources)} available ${JSON.stringify(n.availableResources)} ` +
        `labels ${JSON.stringify(n.labels)} activity ${JSON.stringify(n.nodeActivity)}`,
    ),
    ...s.pendingResourceRequests.map((r) => `pending ${JSON.stringify(r.request.resources)} × ${r.count}`),
    ...s.pendingGangResourceRequests.map(
      (g) => `placement group ${g.strategy} ${JSON.stringify(g.bundles.map((b) => b.resources))} (${g.details})`,
    ),
    ...s.clusterResourceConstraints.map(
      (c) => `request_resources ${JSON.stringify(c.map((r) => [r.request.resources, r.count]))}`,
    ),
  ];
}

async function main(): Promise<void> {
  const rayVersion = execFileSync(rayPython(), ["-c", "import ray; print(ray.__version__)"], {
    encoding: "utf8",
  }).trim();
  const rayNode = (n: (typeof NODES)[number]) => {
    const env = rayPodEnv(CLUSTER, n.type, n.kind, n.name);
    const resources = JSON.parse(env.RAY_OVERRIDE_RESOURCES) as Record<string, number>;
    return {
      instanceId: n.name,
      nodeTypeName: n.type,
      numCpus: resources.CPU,
      env: { RAY_OVERRIDE_RESOURCES: env.RAY_OVERRIDE_RESOURCES },
    };
  };
  log(`Ray ${rayVersion}: a head and ${NODES.length - 1} workers`);
  const cluster = await LocalRayCluster.start({ head: rayNode(NODES[0]) });
  const proxy = new RecordingProxy(cluster.gcsAddress);
  let driver: RayDriver | undefined;
  let direct: GcsAutoscalerClient | undefined;
  try {
    for (const n of NODES.slice(1)) await cluster.addWorker(rayNode(n));
    direct = new GcsAutoscalerClient({ address: cluster.gcsAddress, timeoutMs: 10_000 });
    const gcs = direct;
    await settled(gcs, "every node up", (s) => s.nodes.filter((n) => n.status === "IDLE").length === NODES.length);
    driver = cluster.startDriver(DRIVER);
    await driver.waitFor("HELD", 120_000);
    await driver.waitFor("PENDING", 120_000);
    const state = await settled(
      gcs,
      "the demand to show",
      (s) =>
        s.pendingGangResourceRequests.length === 4 &&
        s.clusterResourceConstraints.length > 0 &&
        s.pendingResourceRequests.length >= 4 &&
        s.nodes.filter((n) => n.status === "RUNNING").length === 4,
    );
    log(`the state to record:\n  ${summary(state).join("\n  ")}`);

    // One pass of the operator's autoscaler, through the proxy: what it calls is what is recorded.
    await proxy.start();
    const viaProxy = new GcsAutoscalerClient({ address: proxy.address, timeoutMs: 10_000 });
    try {
      const rc = defaulted(passCluster(CLUSTER));
      const workers = NODES.filter((n) => n.kind === "worker").map((n) => ({ name: n.name, type: n.type }));
      const result = await new ClusterAutoscaler({ gcs: viaProxy }).step(autoscalingSpec(rc), workers);
      if (!result.ok) throw result.error;
      if (result.reportError) throw new Error(`the report failed: ${result.reportError}`);
      log(`the pass: create ${JSON.stringify(result.create)}, infeasible ${JSON.stringify(result.infeasible)}`);
      log(`its status block:\n  ${result.statusLines.join("\n  ")}`);
      // Drains: refused for a busy worker, accepted for an idle one (the idle-termination drain).
      const byName = new Map(result.state.nodes.map((n) => [n.instanceId, n]));
      const busy = NODES.find((n) => n.kind === "worker" && byName.get(n.name)?.status === "RUNNING");
      const idle = NODES.find((n) => n.kind === "worker" && byName.get(n.name)?.status === "IDLE");
      if (!busy || !idle) throw new Error("no busy or no idle worker to drain");
      const refused = await viaProxy.drainNode({
        nodeId: byName.get(busy.name)!.nodeId,
        reason: "IDLE_TERMINATION",
        message: "recording: a busy node",
      });
      const accepted = await viaProxy.drainNode({
        nodeId: byName.get(idle.name)!.nodeId,
        reason: "IDLE_TERMINATION",
        message: "recording: an idle node",
      });
      if (refused.accepted || !accepted.accepted)
        throw new Error(`drains: busy ${JSON.stringify(refused)}, idle ${JSON.stringify(accepted)}`);
      log(`drain of busy ${busy.name} refused: ${refused.rejectionReason}; drain of idle ${idle.name} accepted`);
    } finally {
      viaProxy.close();
    }

    const [refusedReply, acceptedReply] = proxy.replies.get(AutoscalerStateService.method.drainNode.name) ?? [];
    const files: Record<keyof typeof RECORDED_FILES, Buffer> = {
      state: proxy.only(AutoscalerStateService.method.getClusterResourceState.name),
      report: proxy.only(AutoscalerStateService.method.reportAutoscalingState.name),
      drainRejected: refusedReply,
      drainAccepted: acceptedReply,
    };
    mkdirSync(RECORDED_DIR, { recursive: true });
    for (const [key, bytes] of Object.entries(files) as [keyof typeof RECORDED_FILES, Buffer][]) {
      writeFileSync(join(RECORDED_DIR, RECORDED_FILES[key]), bytes);
      log(`wrote ${RECORDED_FILES[key]} (${bytes.byteLength} bytes)`);
    }
    const decoded = fromBinary(GetClusterResourceStateReplySchema, files.state).clusterResourceState;
    log(`recorded: ${decoded?.nodeStates.length} nodes, Ray ${rayVersion}, session ${decoded?.clusterSessionName}`);
    log(`ray status:\n${cluster.rayStatus()}`);
  } finally {
    proxy.stop();
    direct?.close();
    await driver?.stop();
    await cluster.stop();
  }
  // The types' resources as the operator computes them, beside what Ray reported (they must agree).
  for (const t of defaulted(passCluster(CLUSTER)).spec.podTypes)
    log(`type ${t.name}: ${JSON.stringify(nodeTypeResources(t).resources)}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
