// Fault 6 of issue 13: Ray's control store (the GCS, on the head) stopped and started again during a
// scale-down, on the real node with real Ray and the operator in-cluster from its image. While the
// GCS cannot be asked which workers are busy, nothing may be deleted: neither for a lowered
// maxWorkers (issue 13, defect 1: such a scale-down drains first) nor for idle workers. The GCS is
// frozen (SIGSTOP: its process and port stay, nothing answers), each time for less than the 60 s
// after which Ray's raylets give up on it; "nothing deleted" is proven by the operator's delete
// counter across two failed autoscaler passes and the operator's reconcile of the new spec.
//
// The machine has one real node: this test runs only when it is free (whyNoRealNode() says nothing).
import { strict as assert } from "assert";
import type { V1Pod } from "@kubernetes/client-node";
import { realNodeCluster } from "../support/cluster";
import { whyNoRealNode } from "../../scripts/cluster/host";
import { prometheusSamples } from "../../scripts/operator-process";
import { RayCluster } from "../../api/v1/types";
import { Clients, clientsFromFile, deleteNamespace, eventually, uniqueName } from "../helpers/kube";
import { edited, exampleCluster } from "../helpers/examples";
import { rayClusters } from "../helpers/operator-env";
import {
  clusterPods,
  getRayCluster,
  installOperatorInCluster,
  isReady,
  operatorLog,
  operatorMetrics,
  podProcesses,
} from "../helpers/real-ray";
import { FaultRun, metric } from "../helpers/faults";
import { reportFaultsAfterAll } from "../helpers/faults-report";

reportFaultsAfterAll();

const NAME = "gcs-down";
const TYPE = "worker-nodes";
/** Ray's raylets exit after 60 s without their GCS: every freeze ends well before. */
const FREEZE_LIMIT_MS = 45_000;

/** The seed's example-cluster with two workers that may go (idle after 15 s); no CPU on the head. */
function scalingDown(ns: string): RayCluster {
  return edited(exampleCluster("example-cluster", ns), (r: RayCluster) => {
    r.metadata.name = NAME;
    r.spec.maxWorkers = 2;
    r.spec.idleTimeoutMinutes = 0.25;
    for (const t of r.spec.podTypes) {
      delete t.podConfig.metadata?.generateName;
      if (t.name !== TYPE) t.rayResources = { CPU: 0 };
      else Object.assign(t, { minWorkers: 2, maxWorkers: 2 });
    }
  });
}

const running = (p?: V1Pod) =>
  p?.status?.phase === "Running" && !!p.status.conditions?.some((x) => x.type === "Ready" && x.status === "True");
const uidsOf = (pods: V1Pod[]) => pods.map((p) => p.metadata!.uid!).sort();

describe("faults: Ray's control store stopped during a scale-down (real node, real Ray)", function () {
  this.timeout(1_800_000);
  let c: Clients;
  let ns: string | undefined;

  before(async function () {
    this.timeout(3_600_000); // a cold machine builds the node's binaries and images first
    const why = whyNoRealNode();
    if (why) {
      console.error(`      [faults] the real node is not free: ${why}`);
      this.skip();
    }
    c = clientsFromFile((await realNodeCluster()).kubeconfig);
    ns = uniqueName("f-gcs");
    await installOperatorInCluster(c, ns, { autoscalerIntervalSeconds: 2 });
  });
  after(async () => {
    if (c && ns) await deleteNamespace(c, ns, true);
  });

  it("deletes nothing while the GCS is frozen (maxWorkers lowered, then workers idle); scales down after", async () => {
    const namespace = ns!;
    const run = new FaultRun("Ray's control store frozen during a scale-down (real Ray)", "freezes");
    let error: unknown;
    const counters = async () => prometheusSamples(await operatorMetrics(c, namespace));
    const deletes = (m: Map<string, number>) => metric(m, "ray_operator_pod_actions_total", { action: "delete" });
    const creates = (m: Map<string, number>) => metric(m, "ray_operator_pod_actions_total", { action: "create" });
    const failedPasses = (m: Map<string, number>) =>
      metric(m, "ray_operator_autoscaler_decisions_total", { outcome: "error" });
    const edit = async (change: (rc: RayCluster) => void) => {
      const rc = await getRayCluster(c, namespace, NAME);
      change(rc);
      await rayClusters(c, namespace).replace(rc);
    };
    try {
      await rayClusters(c, namespace).create(scalingDown(namespace));
      const launched = await eventually(
        `${NAME} Ready with 2 workers running Ray`,
        async () => {
          const pods = await clusterPods(c, namespace, NAME);
          const ok = isReady(await getRayCluster(c, namespace, NAME)) && running(pods.head);
          return ok && pods.workers.length === 2 && pods.workers.every(running) ? pods : undefined;
        },
        600_000,
        1000,
      );
      const head = launched.head!;
      const reachable = async () =>
        (await getRayCluster(c, namespace, NAME)).status?.conditions?.find((x) => x.type === "AutoscalerReachable");
      await eventually("AutoscalerReachable=True", async () => (await reachable())?.status === "True", 120_000, 1000);
      const [gcs] = podProcesses(head.metadata!.uid!, "gcs_server");
      assert.ok(gcs, "no gcs_server in the head's container");
      const start = await counters();

      /** Freezes the GCS, makes `change`, and checks that nothing is deleted until two passes failed. */
      const frozenThrough = async (what: string, change: (rc: RayCluster) => void) => {
        const before = await counters();
        const workers = (await clusterPods(c, namespace, NAME)).workers;
        process.kill(gcs, "SIGSTOP");
        run.injected++;
        const frozenAt = Date.now();
        try {
          await edit(change);
          const generation = (await getRayCluster(c, namespace, NAME)).metadata.generation;
          // Proof that the operator looked, more than once, and could have deleted: two failed
          // autoscaler passes and a reconcile of the new generation.
          await eventually(
            `${what}: two failed autoscaler passes and the new spec reconciled`,
            async () => {
              const rc = await getRayCluster(c, namespace, NAME);
              const passes = failedPasses(await counters()) - failedPasses(before);
              return passes >= 2 && rc.status?.observedGeneration === generation;
            },
            FREEZE_LIMIT_MS - (Date.now() - frozenAt),
            500,
          );
          const during = await counters();
          const deleted = deletes(during) - deletes(before);
          const now = (await clusterPods(c, namespace, NAME)).workers;
          const gone = workers.filter((w) => !now.some((p) => p.metadata!.uid === w.metadata!.uid));
          run.podsLost += Math.max(deleted, gone.length);
          run.check(!deleted && !gone.length, `${what}: ${deleted} workers deleted while the GCS was frozen`);
        } finally {
          process.kill(gcs, "SIGCONT");
        }
      };
      const scaledTo = async (workers: number) => {
        const thawed = Date.now();
        await eventually(
          `${NAME} Ready with ${workers} workers`,
          async () => {
            const pods = await clusterPods(c, namespace, NAME);
            const rc = await getRayCluster(c, namespace, NAME);
            return isReady(rc) && pods.workers.length === workers && pods.workers.every(running);
          },
          300_000,
          1000,
        );
        run.convergeMs = Date.now() - thawed;
      };

      await frozenThrough("maxWorkers lowered to 1", (rc) => {
        rc.spec.maxWorkers = 1;
        Object.assign(rc.spec.podTypes[1], { minWorkers: 1, maxWorkers: 1 });
      });
      await scaledTo(1);
      await frozenThrough("minWorkers lowered to 0, the worker idle", (rc) => {
        rc.spec.podTypes[1].minWorkers = 0;
      });
      await scaledTo(0);

      const end = await counters();
      const log = await operatorLog(c, namespace);
      const drained = [...log.matchAll(new RegExp(`^${NAME}:.*drained idle worker (\\S+)`, "gm"))].map((m) => m[1]);
      const scaleDowns = metric(end, "ray_operator_pod_actions_total", { action: "delete", reason: "ScaleDown" });
      run.check(
        scaleDowns === metric(start, "ray_operator_pod_actions_total", { action: "delete", reason: "ScaleDown" }),
        `${scaleDowns} workers deleted as ScaleDown, without a drain (drained: ${drained.join(", ") || "none"})`,
      );
      run.duplicates = creates(end) - creates(start);
      run.check(!run.duplicates, `${run.duplicates} pods created during a scale-down`);
      const after = await clusterPods(c, namespace, NAME);
      run.replacedWhileStable = after.head?.metadata?.uid === head.metadata!.uid ? 0 : 1;
      run.check(!run.replacedWhileStable, "the head was replaced");
      run.check(uidsOf(after.workers).length === 0, "workers left");
      console.error(`      [faults] drained before deletion: ${drained.join(", ") || "none"}`);
      if (run.failures.length) console.error(log.split("\n").slice(-60).join("\n"));
    } catch (e) {
      error = e;
      throw e;
    } finally {
      run.record(error, "each < 45 s");
    }
    run.assertPassed();
  });
});
