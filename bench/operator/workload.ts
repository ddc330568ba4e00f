// The benchmark's pods, one shape for every operator it measures: this operator's RayClusters, KubeRay's
// (kuberay.ts) and the floor's bare pods all ask the scheduler and kwok for the same thing.
import { KWOK_PLACEMENT } from "../../scripts/cluster/control-plane";
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
