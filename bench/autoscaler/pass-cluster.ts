// The RayCluster the autoscaler pass is measured on, and the names of its pods: shared by the recording
// (bench/autoscaler/record.ts starts real Ray nodes as this cluster's pods would start them), the
// scale-up of the recording (scale.ts names each cloned Ray node after a pod of this cluster) and the
// benchmark (pass.ts puts the same pods in its in-memory cache). Three types, as a real cluster might
// have: the head, the seed's small workers with a custom resource, and 4-CPU workers.
import { createHash } from "crypto";
import { API_VERSION, KIND, NodeKind, PodType, RayCluster } from "../../api/v1/types";
import { defaulted, headType } from "../../api/v1/defaults";
import { buildPod } from "../../builders/pod";
import { generateNameFor } from "../../builders/names";
import type { Stored } from "../../operator/kube/informer";

export const PASS_NAMESPACE = "ray";
export const HEAD_TYPE = "head-node";

/** A pod type running the Ray image with these requests and memory limit. */
function podType(
  name: string,
  resources: { cpu: string; memory: string; memoryLimit: string },
  extra: Partial<PodType> = {},
): PodType {
  return {
    name,
    ...extra,
    podConfig: {
      apiVersion: "v1",
      kind: "Pod",
      spec: {
        restartPolicy: "Never",
        containers: [
          {
            name: "ray-node",
            image: "rayproject/ray:2.60.0",
            resources: {
              requests: { cpu: resources.cpu, memory: resources.memory },
              limits: { memory: resources.memoryLimit },
            },
          },
        ],
      },
    },
  };
}

/**
 * The cluster: room for well over 1,000 workers, so that the pass at 1,000 nodes still has scaling
 * up to decide (the limits are not what stops it), and the default idle timeout (5 minutes).
 */
export function passCluster(name: string, namespace = PASS_NAMESPACE): Stored<RayCluster> {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: {
      name,
      namespace,
      // A fixed uid per name: the pods' owner references (ownedBy) must match it in every process.
      uid: createHash("sha256").update(`raycluster/${namespace}/${name}`).digest("hex").slice(0, 32),
      resourceVersion: "1",
      creationTimestamp: "2026-01-01T00:00:00Z",
      generation: 1,
    },
    spec: {
      maxWorkers: 2000,
      upscalingSpeed: 1,
      idleTimeoutMinutes: 5,
      headPodType: HEAD_TYPE,
      podTypes: [
        podType(HEAD_TYPE, { cpu: "200m", memory: "512Mi", memoryLimit: "2Gi" }, { minWorkers: 0, maxWorkers: 0 }),
        podType(
          "worker-nodes",
          { cpu: "200m", memory: "512Mi", memoryLimit: "1Gi" },
          { minWorkers: 2, maxWorkers: 1500, rayResources: { Custom1: 1, is_spot: 1 } },
        ),
        podType("cpu-4", { cpu: "4", memory: "4Gi", memoryLimit: "8Gi" }, { minWorkers: 0, maxWorkers: 1500 }),
      ],
    },
  };
}

// The API server's alphabet for generateName suffixes (builders/names.ts): names look like real ones.
const NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";

/**
 * The name of the `index`-th pod of a kind and type, as generateName would make it but deterministic:
 * the recording, the scaled-up state and the benchmark's cache agree on it without talking.
 */
export function podName(cluster: string, typeName: string, kind: NodeKind, index: number): string {
  let suffix = "";
  for (let rest = index, i = 0; i < 5; i++, rest = Math.floor(rest / NAME_ALPHABET.length))
    suffix += NAME_ALPHABET[rest % NAME_ALPHABET.length];
  return namePrefix(cluster, typeName, kind) + suffix;
}

const prefixes = new Map<string, string>();

/** generateName of a type's pods (the same for every pod of it: worked out once). */
function namePrefix(cluster: string, typeName: string, kind: NodeKind): string {
  const key = `${cluster}/${typeName}/${kind}`;
  let prefix = prefixes.get(key);
  if (prefix === undefined) {
    const rc = defaulted(passCluster(cluster));
    const type = kind === "head" ? headType(rc.spec) : rc.spec.podTypes.find((t) => t.name === typeName);
    if (!type) throw new Error(`no pod type ${typeName}`);
    prefix = generateNameFor(cluster, type, kind);
    prefixes.set(key, prefix);
  }
  return prefix;
}

/**
 * The environment Ray reads on a pod of this type (RAY_OVERRIDE_RESOURCES above all: the resources
 * Ray reports for the node), as buildPod sets it, with the pod's name for RAY_CLOUD_INSTANCE_ID.
 */
export function rayPodEnv(cluster: string, typeName: string, kind: NodeKind, name: string): Record<string, string> {
  const pod = buildPod(defaulted(passCluster(cluster)), typeName, kind, { name });
  const env: Record<string, string> = {};
  for (const e of pod.spec.containers[0].env) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom?.fieldRef?.fieldPath === "metadata.name") env[e.name] = name;
  }
  return env;
}
