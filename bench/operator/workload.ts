// The benchmark's pods, one shape for every operator it measures: this operator's RayClusters, KubeRay's
// (kuberay.ts) and the floor's bare pods all ask the scheduler and kwok for the same thing. The
// real-node isolation part (isolation-real.ts) runs its small cluster's pods for real instead.
import { KWOK_PLACEMENT } from "../../scripts/cluster/control-plane";
import { REAL_NODE_LABELS } from "../../scripts/cluster/node";
import { API_VERSION, KIND, NodeKind, RayCluster } from "../../api/v1/types";
import type { PodSpec } from "../../api/v1/kube-types";

/** The Ray image the pods name; on simulated nodes nothing pulls it. */
export const BENCH_IMAGE = "rayproject/ray:2.60.0";

/** Modest requests, one container, on the simulated nodes: the operator and the control plane are measured, not Ray. */
export function benchPodSpec(): PodSpec {
  return {
    ...KWOK_PLACEMENT,
    restartPolicy: "Never",
    containers: [
      {
        name: "ray-node",
        image: BENCH_IMAGE,
        resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "128Mi" } },
      },
    ],
  };
}

/**
 * Ray in real containers on the real node, as the seed's example-cluster runs there in the real-node
 * tests: the image built here, 200m CPU and 512Mi requested (the node has 2 CPUs), memory limits of
 * 2Gi on a head and 1Gi on a worker (Ray sizes its object store from what the limit leaves), the
 * restricted security context; pinned to the real node (kwok nodes are tainted anyway).
 */
export function realNodePodSpec(kind: NodeKind): PodSpec {
  return {
    nodeSelector: { ...REAL_NODE_LABELS },
    restartPolicy: "Never",
    securityContext: {
      runAsNonRoot: true,
      runAsUser: 1000,
      runAsGroup: 100,
      fsGroup: 100,
      seccompProfile: { type: "RuntimeDefault" },
    },
    containers: [
      {
        name: "ray-node",
        image: BENCH_IMAGE,
        imagePullPolicy: "IfNotPresent",
        resources: { requests: { cpu: "200m", memory: "512Mi" }, limits: { memory: kind === "head" ? "2Gi" : "1Gi" } },
        securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
      },
    ],
  };
}

/**
 * A RayCluster of 1 head + `workers` workers (up to `maxWorkers`), its pods of `podSpec` (by default
 * the simulated nodes' benchPodSpec: the benchmark measures the operator and the control plane at scale).
 */
export function benchCluster(
  name: string,
  namespace: string,
  workers: number,
  maxWorkers = workers,
  podSpec: (kind: NodeKind) => PodSpec = benchPodSpec,
): RayCluster {
  const pod = (kind: NodeKind) => ({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { generateName: `${name}-ray-${kind}-` },
    spec: podSpec(kind),
  });
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name, namespace },
    spec: {
      maxWorkers,
      headPodType: "head-node",
      podTypes: [
        { name: "head-node", podConfig: pod("head") },
        {
          name: "worker-nodes",
          minWorkers: workers,
          maxWorkers,
          rayResources: { Custom1: 1 },
          podConfig: pod("worker"),
        },
      ],
    },
  };
}

/**
 * How many RayClusters of 1 head + how many workers make `pods` pods at scale (BENCH_SCALE): the
 * 1,000-pod workload's shape, 1 head + 9 workers, ten times as many clusters. Kept rather than
 * 100 x 99 so that the per-cluster work (a RayCluster, a Service, status writes, events) is the same
 * mix at both scales and requests per pod compare directly; with 99 workers per cluster the run
 * would mostly time the scheduler's queue (this operator keeps at most 16 of a cluster's workers
 * waiting for it).
 */
export function scaleShape(pods: number): { clusters: number; workersPerCluster: number } {
  const workersPerCluster = 9;
  return { clusters: Math.max(1, Math.round(pods / (1 + workersPerCluster))), workersPerCluster };
}
