// Defaults of the RayCluster API. The CRD schema carries the ones OpenAPI can express (per field);
// the cross-field one (a type's maxWorkers defaults to the global maxWorkers, 0 for the head type) is
// applied here, by everyone who reads a spec, from this one function.
import { DEFAULT_HEAD_PORTS, HeadServicePort, PodType, RayClusterSpec } from "./types";

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
  for (const p of spec.headServicePorts) byName.set(p.name, { name: p.name, port: p.port, targetPort: p.targetPort ?? p.port });
  return [...byName.values()];
}
