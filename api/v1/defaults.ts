// Defaults of the RayCluster API. The CRD schema carries the ones OpenAPI can express (per field);
// the cross-field one (a type's maxWorkers defaults to the global maxWorkers, 0 for the head type) is
// applied here, from this one function, once, where a RayCluster comes in: at the start of a
// reconcile pass and of an autoscaler pass, and in config validation. Everything downstream (the
// builders, the plan, the autoscaler) takes the DefaultedRayCluster made there.
import { DEFAULT_HEAD_PORTS, HeadServicePort, PodType, RayCluster, RayClusterSpec } from "./types";

export const DEFAULTS = {
  maxWorkers: 2,
  upscalingSpeed: 1.0,
  idleTimeoutMinutes: 5,
  minWorkers: 0,
  headStartRayCommands: ["ray stop", "ulimit -n 65536; ray start --head --no-monitor --dashboard-host 0.0.0.0"],
  workerStartRayCommands: ["ray stop", "ulimit -n 65536; ray start --address=$RAY_HEAD_IP:6379"],
} as const;

export interface ResolvedPodType extends PodType {
  minWorkers: number;
  maxWorkers: number;
  setupCommands: string[];
  rayResources: Record<string, number>;
}

export interface ResolvedSpec extends RayClusterSpec {
  maxWorkers: number;
  upscalingSpeed: number;
  idleTimeoutMinutes: number;
  headStartRayCommands: string[];
  workerStartRayCommands: string[];
  headServicePorts: NonNullable<RayClusterSpec["headServicePorts"]>;
  podTypes: ResolvedPodType[];
}

/** Fills every default, so that code downstream never has to ask "was it set?". Pure. */
export function withDefaults(spec: RayClusterSpec): ResolvedSpec {
  const maxWorkers = spec.maxWorkers ?? DEFAULTS.maxWorkers;
  return {
    ...spec,
    maxWorkers,
    upscalingSpeed: spec.upscalingSpeed ?? DEFAULTS.upscalingSpeed,
    idleTimeoutMinutes: spec.idleTimeoutMinutes ?? DEFAULTS.idleTimeoutMinutes,
    headStartRayCommands: spec.headStartRayCommands ?? [...DEFAULTS.headStartRayCommands],
    workerStartRayCommands: spec.workerStartRayCommands ?? [...DEFAULTS.workerStartRayCommands],
    headServicePorts: spec.headServicePorts ?? [],
    podTypes: (spec.podTypes ?? []).map((t) => ({
      ...t,
      minWorkers: t.minWorkers ?? DEFAULTS.minWorkers,
      maxWorkers: t.maxWorkers ?? (t.name === spec.headPodType ? 0 : maxWorkers),
      setupCommands: t.setupCommands ?? [],
      rayResources: t.rayResources ?? {},
    })),
  };
}

/** A RayCluster with every default of its spec filled: what reconcile, the builders and the autoscaler read. */
export interface DefaultedRayCluster extends RayCluster {
  spec: ResolvedSpec;
}
/** The same for a RayCluster of a narrower type (the operator's cached ones: `Defaulted<Stored<RayCluster>>`). */
export type Defaulted<T extends RayCluster> = Omit<T, "spec"> & DefaultedRayCluster;

/** The RayCluster with its spec defaulted (withDefaults); the rest is the same object's. Pure. */
export function defaulted<T extends RayCluster>(rc: T): Defaulted<T> {
  return { ...rc, spec: withDefaults(rc.spec) };
}

/** The types that may have worker pods: every type but the head's, unless the head type allows workers. */
export function workerTypes(spec: ResolvedSpec): ResolvedPodType[] {
  return spec.podTypes.filter((t) => t.name !== spec.headPodType || t.maxWorkers > 0);
}

export function headType(spec: ResolvedSpec): ResolvedPodType {
  const t = spec.podTypes.find((p) => p.name === spec.headPodType);
  if (!t) throw new Error(`spec.headPodType: "${spec.headPodType}" names no entry of spec.podTypes`);
  return t;
}

/** The head Service's ports: the defaults, with `headServicePorts` added or overriding by name. */
export function headServicePorts(spec: ResolvedSpec): HeadServicePort[] {
  const byName = new Map<string, HeadServicePort>(DEFAULT_HEAD_PORTS.map((p) => [p.name, { ...p }]));
  for (const p of spec.headServicePorts)
    byName.set(p.name, { name: p.name, port: p.port, targetPort: p.targetPort ?? p.port });
  return [...byName.values()];
}
