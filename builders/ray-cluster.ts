// The objects a RayCluster turns into: its head pod, its worker pods and its head Service. Pure
// functions of the RayCluster, shared by the operator (which creates them), `npm run render` and the
// tests, so that what is tested is what runs.
import {
  API_VERSION,
  KIND,
  LABELS,
  MANAGED_BY,
  NodeKind,
  OwnerReference,
  RayCluster,
} from "../api/v1/types";
import { ResolvedPodType, ResolvedSpec, headServicePorts, headType, withDefaults } from "../api/v1/defaults";
import type { Container, EnvVar, ObjectMeta, Pod, PodSpec, Probe, Service, Volume, VolumeMount } from "../api/v1/kube-types";
import { FieldError } from "../api/v1/validate";
import { parseQuantity } from "./quantity";
import { randomInt } from "crypto";
import { shortHash } from "./hash";

/**
 * Annotation on worker pods: the name of the head pod they were started against. The operator names
 * each new head itself (see `newPodName`), so a new head and its workers can be created at once, and
 * a replaced head (always a new name) tells which workers belong to the old one.
 */
export const HEAD_NAME_ANNOTATION = "cluster.ray.io/head-pod-name";
/** Pods mount shared memory here, as Ray's object store expects. */
const SHM_VOLUME = "dshm";

export const headServiceName = (cluster: string) => `${cluster}-ray-head`;

/** How workers (and clients in the cluster) reach the head: the head Service's DNS name. */
export const headAddress = (cluster: string, namespace: string) => `${headServiceName(cluster)}.${namespace}.svc`;

export function ownerReference(rc: RayCluster): OwnerReference {
  return { apiVersion: API_VERSION, kind: KIND, name: rc.metadata.name!, uid: rc.metadata.uid!, controller: true, blockOwnerDeletion: true };
}

/** Selects every pod of one cluster (and, optionally, one kind). */
export function podSelector(cluster: string, kind?: NodeKind): Record<string, string> {
  return kind ? { [LABELS.clusterName]: cluster, [LABELS.nodeType]: kind } : { [LABELS.clusterName]: cluster };
}

/**
 * The resources Ray sees on one node of a type: CPU, GPU and memory read from the Ray container's
 * limits (else requests), then `rayResources` on top. Errors name the offending field.
 */
export function nodeTypeResources(type: ResolvedPodType, path = "podType"): { resources: Record<string, number>; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const resources: Record<string, number> = {};
  const container = type.podConfig?.spec?.containers?.[0];
  const read = (name: string): number | undefined => {
    for (const kind of ["limits", "requests"] as const) {
      const q: string | number | undefined = container?.resources?.[kind]?.[name];
      if (q === undefined) continue;
      try {
        return parseQuantity(q);
      } catch (e) {
        errors.push({ field: `${path}.podConfig.spec.containers[0].resources.${kind}.${name}`, message: `Invalid value: ${JSON.stringify(q)}: ${(e as Error).message}` });
        return undefined;
      }
    }
    return undefined;
  };
  const cpu = read("cpu");
  if (cpu !== undefined) resources.CPU = Math.ceil(cpu - 1e-9);
  const gpu = read("nvidia.com/gpu") ?? read("amd.com/gpu");
  if (gpu !== undefined && gpu > 0) resources.GPU = gpu;
  const memory = read("memory");
  if (memory !== undefined) resources.memory = Math.floor(memory);
  return { resources: { ...resources, ...type.rayResources }, errors };
}

/**
 * The launch config of a node: everything a pod is built from, except the scaling fields, so that
 * rescaling restarts nothing while any other change (including the RayCluster's labels, the seed's
 * way to force a restart) yields a new hash and outdated pods get replaced.
 */
export function launchConfigHash(rc: RayCluster, type: ResolvedPodType, kind: NodeKind, spec: ResolvedSpec = withDefaults(rc.spec)): string {
  return shortHash({
    kind,
    type: type.name,
    podConfig: type.podConfig,
    setupCommands: type.setupCommands,
    rayResources: type.rayResources,
    startCommands: kind === "head" ? spec.headStartRayCommands : spec.workerStartRayCommands,
    clusterLabels: rc.metadata.labels ?? {},
  });
}

/**
 * The Ray processes whose presence means "Ray runs on this node": the raylet everywhere, and on the
 * head the control store (GCS) too. When one is gone Ray no longer runs here, whatever the container.
 */
const RAY_PROCESSES: Record<NodeKind, string[]> = { head: ["gcs_server", "raylet"], worker: ["raylet"] };
/** How often the launcher looks for Ray's processes once Ray is started. */
const RAY_WATCH_SECONDS = 2;
/** How long Ray's processes may take to appear after the start commands returned (env RAY_START_TIMEOUT_SECONDS). */
const RAY_START_SECONDS = 30;

/**
 * A bash script that sets up and starts Ray, then keeps the container alive exactly as long as Ray
 * runs in it: when a Ray process stops by itself (killed, crashed, or a worker's raylet exiting after
 * a drain) the container exits, so the pod does not stay Running without Ray and the operator replaces
 * it (or, for a drained worker, deletes it). SIGTERM stops Ray and exits 0. It reads /proc, so it
 * needs nothing in the image beyond bash.
 */
export function rayLauncherScript(setupCommands: string[], startCommands: string[], kind: NodeKind = "worker"): string {
  // Each command must succeed, judged like a shell line: `ulimit -n 65536; ray start ...` succeeds
  // when `ray start` does. A failure ends the container, so the pod fails visibly and is replaced.
  const step = (cmd: string) => `{\n${cmd}\n} || { echo "ray-operator: command failed: ${cmd.replace(/["\\$`]/g, "\\$&").split("\n")[0]}" >&2; exit 1; }`;
  const watched = RAY_PROCESSES[kind];
  return [
    "trap 'ray stop >/dev/null 2>&1 || true; exit 0' TERM INT",
    ...setupCommands.map(step),
    ...startCommands.map(step),
    `ray_running() {
  local want="${watched.join(" ")}" seen="" p comm
  for p in /proc/[0-9]*; do
    read -r comm < "$p/comm" 2>/dev/null || continue
    case " $want " in *" $comm "*) seen="$seen $comm" ;; esac
  done
  for p in $want; do case " $seen " in *" $p "*) ;; *) echo "$p"; return 1 ;; esac; done
}
tries=0
until gone=$(ray_running); do
  tries=$((tries + 1))
  [ "$tries" -lt "\${RAY_START_TIMEOUT_SECONDS:-${RAY_START_SECONDS}}" ] || { echo "ray-operator: Ray did not start on this node ($gone is not running)" >&2; exit 1; }
  sleep 1 & wait $!
done
while gone=$(ray_running); do sleep ${RAY_WATCH_SECONDS} & wait $!; done
echo "ray-operator: Ray stopped on this node ($gone is not running); the container exits" >&2
exit 1`,
  ].join("\n");
}

/**
 * Ready means Ray runs: on the head, its control store (GCS) accepts connections; on a worker, its
 * raylet runs (a worker has no fixed port to try: the raylet's is chosen at start). Without it a
 * worker would be Ready as soon as its container starts, seconds before it is a Ray node.
 */
export function rayReadinessProbe(kind: NodeKind): Probe {
  if (kind === "head") return { tcpSocket: { port: 6379 }, periodSeconds: 5, failureThreshold: 3 };
  const check = `for p in /proc/[0-9]*; do read -r c < "$p/comm" 2>/dev/null && [ "$c" = raylet ] && exit 0; done; exit 1`;
  return { exec: { command: ["/bin/bash", "-c", check] }, periodSeconds: 5, failureThreshold: 3 };
}

function generateNameFor(cluster: string, type: ResolvedPodType, kind: NodeKind): string {
  const fromConfig = type.podConfig?.metadata?.generateName;
  if (fromConfig) return fromConfig.startsWith(`${cluster}-`) ? fromConfig : `${cluster}-${fromConfig}`;
  return `${cluster}-ray-${kind}-`;
}

// The API server's own alphabet for generateName suffixes (no vowels, no look-alike digits).
const NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";

/** A name as the API server's generateName would give it: the prefix (cut to 58) and 5 random characters. */
export function newPodName(generateName: string): string {
  let suffix = "";
  for (let i = 0; i < 5; i++) suffix += NAME_ALPHABET[randomInt(NAME_ALPHABET.length)];
  return `${generateName.slice(0, 58)}${suffix}`;
}

/** The name the operator gives a new head pod of this cluster (workers carry it: HEAD_NAME_ANNOTATION). */
export function newHeadPodName(rc: RayCluster, spec: ResolvedSpec = withDefaults(rc.spec)): string {
  return newPodName(generateNameFor(rc.metadata.name!, headType(spec), "head"));
}

export interface PodBuildOptions {
  /** For workers: the name of the head pod they join. */
  headPodName?: string;
  /** A fixed name (the operator's for a head); otherwise the API server generates one. */
  name?: string;
}

/** The Ray container as `buildPod` makes it: its command, environment and mounts always set. */
export interface RayContainer extends Container {
  command: string[];
  args: string[];
  env: EnvVar[];
  volumeMounts: VolumeMount[];
}

/** A pod as `buildPod` makes it: labelled, annotated, its first container running Ray. */
export interface RayPod extends Pod {
  apiVersion: "v1";
  kind: "Pod";
  metadata: ObjectMeta & { namespace: string; labels: Record<string, string>; annotations: Record<string, string> };
  spec: PodSpec & { containers: [RayContainer, ...Container[]]; volumes: Volume[] };
}

/** Builds the pod for one node of a cluster. */
export function buildPod(rc: RayCluster, typeName: string, kind: NodeKind, opts: PodBuildOptions = {}): RayPod {
  const spec = withDefaults(rc.spec);
  const type = kind === "head" ? headType(spec) : spec.podTypes.find((t) => t.name === typeName);
  if (!type) throw new Error(`${rc.metadata.name}: no pod type named "${typeName}"`);
  const cluster = rc.metadata.name!;
  const namespace = rc.metadata.namespace!;
  const podConfig = structuredClone(type.podConfig);
  const podSpec = podConfig.spec;
  const { resources } = nodeTypeResources(type);
  const hash = launchConfigHash(rc, type, kind, spec);

  const [ray, ...sidecars] = podSpec.containers;
  const ourEnv: EnvVar[] = [
    { name: "RAY_CLUSTER_NAME", value: cluster },
    { name: "RAY_HEAD_IP", value: headAddress(cluster, namespace) },
    { name: "RAY_CLOUD_INSTANCE_ID", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
    { name: "RAY_NODE_TYPE_NAME", value: type.name },
    { name: "RAY_OVERRIDE_RESOURCES", value: JSON.stringify(resources) },
    // Ray's v2 autoscaler protocol on the head: request_resources() reaches the GCS as constraints,
    // and `ray status` shows the state the operator reports.
    ...(kind === "head" ? [{ name: "RAY_enable_autoscaler_v2", value: "1" }] : []),
  ];
  const ours = new Set(ourEnv.map((e) => e.name));
  const startCommands = kind === "head" ? spec.headStartRayCommands : spec.workerStartRayCommands;
  const rayContainer: RayContainer = {
    ...ray,
    command: ["/bin/bash", "-c", "--"],
    args: [rayLauncherScript(type.setupCommands, startCommands, kind)],
    env: [...(ray.env ?? []).filter((e) => !ours.has(e.name)), ...ourEnv],
    volumeMounts: [...(ray.volumeMounts ?? []).filter((m) => m.mountPath !== "/dev/shm"), { name: SHM_VOLUME, mountPath: "/dev/shm" }],
    ...(ray.readinessProbe ? {} : { readinessProbe: rayReadinessProbe(kind) }),
  };

  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      ...(opts.name ? { name: opts.name } : { generateName: generateNameFor(cluster, type, kind) }),
      namespace,
      labels: {
        ...(podConfig.metadata?.labels ?? {}),
        [LABELS.clusterName]: cluster,
        [LABELS.nodeType]: kind,
        [LABELS.userNodeType]: type.name,
        [LABELS.launchConfig]: hash,
        [LABELS.managedBy]: MANAGED_BY,
      },
      annotations: {
        ...(podConfig.metadata?.annotations ?? {}),
        ...(kind === "worker" && opts.headPodName ? { [HEAD_NAME_ANNOTATION]: opts.headPodName } : {}),
      },
      ownerReferences: [ownerReference(rc)],
    },
    spec: {
      ...podSpec,
      containers: [rayContainer, ...sidecars],
      volumes: [
        ...(podSpec.volumes ?? []).filter((v) => v.name !== SHM_VOLUME),
        { name: SHM_VOLUME, emptyDir: { medium: "Memory" } },
      ],
    },
  };
}

/** The head Service `<cluster>-ray-head`, selecting the head pod. */
export function buildHeadService(rc: RayCluster) {
  const spec = withDefaults(rc.spec);
  const cluster = rc.metadata.name!;
  return {
    apiVersion: "v1" as const,
    kind: "Service" as const,
    metadata: {
      name: headServiceName(cluster),
      namespace: rc.metadata.namespace,
      labels: { [LABELS.clusterName]: cluster, [LABELS.managedBy]: MANAGED_BY },
      ownerReferences: [ownerReference(rc)],
    },
    spec: {
      type: "ClusterIP",
      selector: podSelector(cluster, "head"),
      ports: headServicePorts(spec).map((p) => ({ name: p.name, port: p.port, targetPort: p.targetPort ?? p.port, protocol: "TCP" })),
    },
  } satisfies Service;
}

/** The head Service as `buildHeadService` makes it. */
export type HeadService = ReturnType<typeof buildHeadService>;
