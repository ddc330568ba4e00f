// What one write costs the API server, in its own CPU seconds (from /proc), with no operator running:
// the RayCluster status write this operator makes twice per new cluster, the same write without the
// CRD's CEL rules, the same on KubeRay's CRD, and the cheapest write there is (a ConfigMap's
// annotation). On a machine the control plane saturates, time follows CPU, and these writes are
// most of what separates a convergence from its floor (the README's "What limits it").
import type { KubeRest } from "../../operator/kube/rest";
import { rayClusterCrd } from "../../api/v1/crd";
import { defaulted } from "../../api/v1/defaults";
import { API_VERSION, PLURAL, RayCluster, VERSION } from "../../api/v1/types";
import { computeStatus } from "../../operator/controller/status";
import { planCluster } from "../../operator/controller/plan";
import { cpuSecondsOf } from "./proc";
import { benchCluster } from "./workload";
import { KUBERAY_RAYCLUSTERS, kubeRayBenchCluster } from "./kuberay";
import { Summary, summarize } from "./stats";
import { CRDS_PATH, crdEstablished } from "./crd";

/** The group of the diagnostic copy of the CRD without its `x-kubernetes-validations`. */
const NO_CEL_GROUP = "no-cel.bench.ray.io";

export interface WriteCostOptions {
  admin: KubeRest;
  apiServerPid: number;
  ns: string;
  /** KubeRay's CRD is installed (BENCH_PEER=kuberay): measure its status write too. */
  kuberay: boolean;
  /** Batches per kind of write (each a figure of the median), and writes per batch. */
  batches?: number;
  writesPerBatch?: number;
}

/** The kinds of write measured, as the report names them. */
export const WRITE_KINDS = {
  ours: "RayCluster status (this CRD)",
  oursWithoutCel: "RayCluster status (this CRD without its CEL rules)",
  kuberay: "RayCluster status (KubeRay's CRD)",
  configMap: "ConfigMap annotation",
} as const;

/** API-server CPU milliseconds per write, by kind of write (median over batches). */
export type WriteCosts = Record<string, Summary>;

/** The same schema, every CEL rule left out (to show what the rules cost on each write). */
function withoutCel<T>(value: T): T {
  if (Array.isArray(value)) return value.map(withoutCel) as T;
  if (value && typeof value === "object")
    return Object.fromEntries(
      Object.entries(value)
        .filter(([key]) => key !== "x-kubernetes-validations")
        .map(([key, v]) => [key, withoutCel(v)]),
    ) as T;
  return value;
}

export async function measureWriteCosts(o: WriteCostOptions): Promise<WriteCosts> {
  const { admin, ns } = o;
  const batches = o.batches ?? 3;
  const writes = o.writesPerBatch ?? 300;
  const name = "write-cost";

  const noCel = withoutCel(rayClusterCrd());
  noCel.metadata.name = `${PLURAL}.${NO_CEL_GROUP}`;
  noCel.spec.group = NO_CEL_GROUP;
  await admin.create(CRDS_PATH, noCel);
  try {
    await crdEstablished(admin, noCel.metadata.name);
    const ours = benchCluster(name, ns, 9);
    const stored = await admin.create<RayCluster>(`/apis/${API_VERSION}/namespaces/${ns}/${PLURAL}`, ours);
    await admin.create(`/apis/${NO_CEL_GROUP}/${VERSION}/namespaces/${ns}/${PLURAL}`, {
      ...ours,
      apiVersion: `${NO_CEL_GROUP}/${VERSION}`,
    });
    await admin.create(`/api/v1/namespaces/${ns}/configmaps`, { metadata: { name }, data: {} });
    if (o.kuberay) await admin.create(KUBERAY_RAYCLUSTERS(ns), kubeRayBenchCluster(name, ns, 9));

    // The status this operator writes for a new cluster (its first pass), the ready count changed on
    // every write so that each one is a change the API server stores.
    const rc = defaulted(stored);
    const status = computeStatus({ rc, pods: [], plan: planCluster(rc, [], undefined) });
    const ourStatus = (i: number) => ({
      status: { ...status, workers: { desired: 9, current: 9, ready: i % 10 } },
    });
    const kubeRayStatus = (i: number) => ({
      status: {
        state: "ready",
        observedGeneration: 1,
        desiredWorkerReplicas: 9,
        availableWorkerReplicas: i % 10,
        readyWorkerReplicas: i % 10,
      },
    });
    type Kind = [name: string, path: string, body: (i: number) => unknown];
    const kinds: Kind[] = [
      [WRITE_KINDS.ours, `/apis/${API_VERSION}/namespaces/${ns}/${PLURAL}/${name}/status`, ourStatus],
      [
        WRITE_KINDS.oursWithoutCel,
        `/apis/${NO_CEL_GROUP}/${VERSION}/namespaces/${ns}/${PLURAL}/${name}/status`,
        ourStatus,
      ],
      ...(o.kuberay ? [[WRITE_KINDS.kuberay, `${KUBERAY_RAYCLUSTERS(ns)}/${name}/status`, kubeRayStatus] as Kind] : []),
      [
        WRITE_KINDS.configMap,
        `/api/v1/namespaces/${ns}/configmaps/${name}`,
        (i) => ({ metadata: { annotations: { "bench.ray.io/write": String(i) } } }),
      ],
    ];
    const samples = new Map<string, number[]>(kinds.map(([kind]) => [kind, []]));
    // Batches interleaved across kinds, so that a machine that drifts moves every kind alike.
    for (let batch = 0; batch < batches; batch++)
      for (const [kind, path, body] of kinds) {
        const before = cpuSecondsOf(o.apiServerPid);
        let next = 0;
        // Ten in flight, as ten reconcile workers would write.
        await Promise.all(
          Array.from({ length: 10 }, async () => {
            while (next < writes) await admin.mergePatch(path, body(next++));
          }),
        );
        samples.get(kind)!.push(((cpuSecondsOf(o.apiServerPid) - before) / writes) * 1000);
      }
    return Object.fromEntries([...samples].map(([kind, ms]) => [kind, summarize(ms)]));
  } finally {
    // What this made, and only that (the copy's RayCluster goes with its CRD).
    await admin.delete(`${CRDS_PATH}/${noCel.metadata.name}`).catch(() => undefined);
    for (const path of [
      `/apis/${API_VERSION}/namespaces/${ns}/${PLURAL}/${name}`,
      `/api/v1/namespaces/${ns}/configmaps/${name}`,
      ...(o.kuberay ? [`${KUBERAY_RAYCLUSTERS(ns)}/${name}`] : []),
    ])
      await admin.delete(path).catch(() => undefined);
  }
}
