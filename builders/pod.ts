// The pods a RayCluster turns into, its head and its workers: a pure function of the RayCluster,
// shared by the operator (which creates them), the benchmark and the tests, so that what is tested is
// what runs.
import { LABELS, MANAGED_BY, NodeKind } from "../api/v1/types";
import { DefaultedRayCluster, headType } from "../api/v1/defaults";
import type { Container, EnvVar, ObjectMeta, Pod, PodSpec, Volume, VolumeMount } from "../api/v1/kube-types";
import { HEAD_NAME_ANNOTATION, generateNameFor, headAddress, ownerReference } from "./names";
import { nodeTypeResources } from "./resources";
import { launchConfigHash } from "./launch-hash";
import { canonicalJson } from "./hash";
import { rayLauncherScript, rayReadinessProbe } from "./launcher";

/** Pods mount shared memory here, as Ray's object store expects. */
const SHM_VOLUME = "dshm";

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
export function buildPod(
  rc: DefaultedRayCluster,
  typeName: string,
  kind: NodeKind,
  opts: PodBuildOptions = {},
): RayPod {
  const spec = rc.spec;
  const type = kind === "head" ? headType(spec) : spec.podTypes.find((t) => t.name === typeName);
  if (!type) throw new Error(`${rc.metadata.name}: no pod type named "${typeName}"`);
  const cluster = rc.metadata.name!;
  const namespace = rc.metadata.namespace!;
  const podConfig = structuredClone(type.podConfig);
  const podSpec = podConfig.spec;
  const { resources } = nodeTypeResources(type);
  const hash = launchConfigHash(rc, type, kind);

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
    volumeMounts: [
      ...(ray.volumeMounts ?? []).filter((m) => m.mountPath !== "/dev/shm"),
      { name: SHM_VOLUME, mountPath: "/dev/shm" },
    ],
    ...(ray.readinessProbe ? {} : { readinessProbe: rayReadinessProbe(kind) }),
    // When Ray's container fails, the end of its output (the launcher says which command failed or
    // which Ray process stopped) stays in the pod's status, which the operator logs before it
    // deletes the pod: the reason outlives the pod.
    terminationMessagePolicy: ray.terminationMessagePolicy ?? "FallbackToLogsOnError",
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

/**
 * A pod as admission sees it, less which cluster it is of: `pod` with its own name and every mention
 * of its cluster's name replaced by placeholders of the same length (a name's length can matter to
 * validation) and its cluster's UID by a placeholder, as canonical JSON. Pods of two clusters with
 * the same shape in one namespace are admitted or refused alike by the API server's validation and
 * admission (Pod Security, policies on the pod's spec), unless a rule reads the cluster's name
 * itself; the operator's dry run relies on it to ask once per shape, not once per cluster.
 */
export function podShape(pod: RayPod, cluster: { name: string; uid?: string }): string {
  const placeholder = (s: string) => "_".repeat(s.length);
  const anonymous = (value: unknown): unknown => {
    if (typeof value === "string") {
      let s = value.split(cluster.name).join(placeholder(cluster.name));
      if (cluster.uid) s = s.split(cluster.uid).join("<uid>"); // a UID's length is the API server's choice
      return s;
    }
    if (Array.isArray(value)) return value.map(anonymous);
    if (value && typeof value === "object")
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, anonymous(v)]));
    return value;
  };
  const { name, generateName, labels, ...metadata } = pod.metadata;
  return canonicalJson({
    ...pod,
    // A head's name ends in random letters: only its length can matter to admission. The launch
    // hash is a digest of the template (whose generateName may hold the cluster's name), which the
    // shape holds in full already.
    metadata: {
      ...(anonymous(metadata) as object),
      labels: anonymous({ ...labels, [LABELS.launchConfig]: placeholder(labels[LABELS.launchConfig] ?? "") }),
      name: placeholder(name ?? ""),
      generateName: placeholder(generateName ?? ""),
    },
    spec: anonymous(pod.spec),
  });
}
