// RayClusters that admission must reject, and generators of RayClusters broken the way users break
// them. The unit tests check them against the in-process validator; the integration tests against a
// real API server (test/integration/admission.test.ts; the operator's side can reuse the generators).
import fc from "fast-check";
import { JsonValue } from "../../api/v1/structural-schema";
import { BOUNDS, MAX_POD_TYPES } from "../../api/v1/crd";
import { RayCluster } from "../../api/v1/types";
import { exampleCluster } from "./examples";

export const BAD_CLUSTERS: Array<[string, (r: any) => void, string]> = [
  ["minWorkers above the type's maxWorkers", (r) => (r.spec.podTypes[1].minWorkers = 5), "spec.podTypes[1].minWorkers"],
  ["headPodType naming no type", (r) => (r.spec.headPodType = "nope"), "spec.headPodType"],
  ["duplicate type names", (r) => (r.spec.podTypes[1].name = "head-node"), "spec.podTypes[1]"],
  ["negative maxWorkers", (r) => (r.spec.maxWorkers = -1), "spec.maxWorkers"],
  ["a string for minWorkers", (r) => (r.spec.podTypes[1].minWorkers = "two"), "spec.podTypes[1].minWorkers"],
  ["negative upscalingSpeed", (r) => (r.spec.upscalingSpeed = -0.5), "spec.upscalingSpeed"],
  ["a fractional maxWorkers", (r) => (r.spec.maxWorkers = 2.5), "spec.maxWorkers"],
  [
    "a negative custom resource",
    (r) => (r.spec.podTypes[1].rayResources.Custom1 = -1),
    "spec.podTypes[1].rayResources.Custom1",
  ],
  ["no podTypes", (r) => (r.spec.podTypes = []), "spec.podTypes"],
  ["no headPodType", (r) => delete r.spec.headPodType, "spec.headPodType"],
  [
    "a podConfig without containers",
    (r) => (r.spec.podTypes[0].podConfig.spec.containers = []),
    "spec.podTypes[0].podConfig.spec.containers",
  ],
  [
    "a container without image",
    (r) => delete r.spec.podTypes[0].podConfig.spec.containers[0].image,
    "spec.podTypes[0].podConfig.spec.containers[0].image",
  ],
  [
    "a podConfig of another kind",
    (r) => (r.spec.podTypes[0].podConfig.kind = "Deployment"),
    "spec.podTypes[0].podConfig.kind",
  ],
  ["minWorkers adding up above maxWorkers", (r) => (r.spec.maxWorkers = 1), "spec.maxWorkers"],
  ["a type name that is no label value", (r) => (r.spec.podTypes[1].name = "worker nodes!"), "spec.podTypes[1].name"],
  [
    "a head service port out of range",
    (r) => (r.spec.headServicePorts = [{ name: "serve", port: 70000 }]),
    "spec.headServicePorts[0].port",
  ],
  ["an unknown field", (r) => (r.spec.podTypes[1].minWorker = 1), "spec.podTypes[1].minWorker"],
  ["a name too long for its Service", (r) => (r.metadata.name = "x".repeat(60)), "metadata.name"],
];

// ---- Edits by path, so that a broken cluster says what was done to it and where ----

export type JsonObject = { [key: string]: JsonValue };
export type PathSegment = string | number;

export type Edit =
  | { kind: "set"; path: PathSegment[]; value: JsonValue }
  | { kind: "delete"; path: PathSegment[] }
  /** A typo: the key at `path` moves to `to`, keeping its value. */
  | { kind: "rename"; path: PathSegment[]; to: string };

export interface BrokenCluster {
  /** One line per edit, e.g. `set spec.maxWorkers = 5001`. */
  description: string;
  edits: Edit[];
  cluster: JsonObject;
}

/** `["spec", "podTypes", 1, "minWorkers"]` → `spec.podTypes[1].minWorkers`. */
export const fieldOf = (path: PathSegment[]): string =>
  path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? p : `.${p}`)).join("");

const isObject = (v: JsonValue | undefined): v is JsonObject =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** The container (object or list) holding the last segment of `path`, created on the way if missing. */
function parentOf(root: JsonObject, path: PathSegment[]): JsonObject | JsonValue[] | undefined {
  let at: JsonValue = root;
  for (const [i, segment] of path.slice(0, -1).entries()) {
    const next = path[i + 1];
    if (Array.isArray(at) && typeof segment === "number") {
      if (segment > at.length) return undefined;
      at = at[segment] ?? (at[segment] = typeof next === "number" ? [] : {});
    } else if (isObject(at) && typeof segment === "string") {
      // Missing parents are created; a parent an earlier edit replaced by a scalar is left alone.
      if (at[segment] === undefined) at[segment] = typeof next === "number" ? [] : {};
      at = at[segment];
    } else {
      return undefined;
    }
  }
  return isObject(at) || Array.isArray(at) ? at : undefined;
}

/** Applies an edit; false when an earlier edit left no place for it (a list set to a number). */
export function applyEdit(root: JsonObject, edit: Edit): boolean {
  const parent = parentOf(root, edit.path);
  const last = edit.path[edit.path.length - 1];
  if (parent === undefined) return false;
  if (Array.isArray(parent)) {
    if (typeof last !== "number" || edit.kind === "rename") return false;
    if (edit.kind === "set") parent[last] = edit.value;
    else parent.splice(last, 1);
    return true;
  }
  const key = String(last);
  if (edit.kind === "set") parent[key] = edit.value;
  else if (edit.kind === "delete") delete parent[key];
  else if (key in parent) {
    parent[edit.to] = parent[key];
    delete parent[key];
  } else return false;
  return true;
}

const describe = (edit: Edit): string =>
  edit.kind === "set"
    ? `set ${fieldOf(edit.path)} = ${JSON.stringify(edit.value)}`
    : edit.kind === "delete"
      ? `delete ${fieldOf(edit.path)}`
      : `rename ${fieldOf(edit.path)} to ${edit.to}`;

/** A seed example as plain JSON, as it would be sent to the API server. */
export const exampleJson = (name: "example-cluster" | "example-cluster2", namespace: string): JsonObject =>
  JSON.parse(JSON.stringify(exampleCluster(name, namespace))) as JsonObject;

/** The base with the edits that apply (one may leave no place for the next); says what was done. */
export function broken(base: JsonObject, edits: Edit[]): BrokenCluster {
  const cluster = structuredClone(base);
  const applied = edits.filter((edit) => applyEdit(cluster, edit));
  return { description: applied.map(describe).join("; ") || "unchanged", edits: applied, cluster };
}

// ---- Where users go wrong: the generators ----

// Both seed examples have a head type (0) and a worker type (1), each with one container that has
// requests (cpu, memory) and a memory limit; the generated paths rely on that shape.
const podType = fc.constantFrom(0, 1);
const podSpec = (t: number): PathSegment[] => ["spec", "podTypes", t, "podConfig", "spec"];
const container = (t: number, c = 0): PathSegment[] => [...podSpec(t), "containers", c];

/** Every count and number of the RayCluster API, with its bounds: the boundary tests walk these. */
export interface Bounded {
  path: PathSegment[];
  min: number;
  max: number;
  /** The smallest step past a bound: 1 for integers. */
  step: number;
  /** Edits that let a value at the maximum pass the other rules (a sum, minWorkers ≤ maxWorkers). */
  context?: Edit[];
}

const set = (path: PathSegment[], value: JsonValue): Edit => ({ kind: "set", path, value });

export const BOUNDED_FIELDS: Bounded[] = [
  {
    path: ["spec", "maxWorkers"],
    min: 0,
    max: BOUNDS.workers,
    step: 1,
    context: [set(["spec", "podTypes", 1, "minWorkers"], 0)],
  },
  {
    path: ["spec", "podTypes", 1, "minWorkers"],
    min: 0,
    max: BOUNDS.workers,
    step: 1,
    context: [set(["spec", "maxWorkers"], BOUNDS.workers), set(["spec", "podTypes", 1, "maxWorkers"], BOUNDS.workers)],
  },
  {
    path: ["spec", "podTypes", 1, "maxWorkers"],
    min: 0,
    max: BOUNDS.workers,
    step: 1,
    context: [set(["spec", "podTypes", 1, "minWorkers"], 0)],
  },
  { path: ["spec", "upscalingSpeed"], min: 0, max: BOUNDS.upscalingSpeed, step: 0.5 },
  { path: ["spec", "idleTimeoutMinutes"], min: 0, max: BOUNDS.idleTimeoutMinutes, step: 0.5 },
  { path: ["spec", "podTypes", 1, "rayResources", "Custom1"], min: 0, max: BOUNDS.rayResource, step: 1 },
  {
    path: ["spec", "headServicePorts", 0, "port"],
    min: 1,
    max: 65535,
    step: 1,
    context: [set(["spec", "headServicePorts", 0, "name"], "serve")],
  },
  {
    path: ["spec", "headServicePorts", 0, "targetPort"],
    min: 1,
    max: 65535,
    step: 1,
    context: [set(["spec", "headServicePorts", 0], { name: "serve", port: 8000 })],
  },
  { path: [...container(0), "ports", 0, "containerPort"], min: 1, max: 65535, step: 1 },
  { path: [...container(0), "ports", 0, "hostPort"], min: 0, max: 65535, step: 1 },
];

/** Lists and maps with a maximum size: refused one past it. */
export interface BoundedList {
  path: PathSegment[];
  max: number;
  /** The i-th item (or, for a map, entry) of a list that fits every other rule. */
  item: (i: number) => JsonValue;
  map?: boolean;
  context?: Edit[];
}

export const BOUNDED_LISTS: BoundedList[] = [
  {
    path: ["spec", "podTypes"],
    max: MAX_POD_TYPES,
    item: (i) => ({
      name: `type-${i}`,
      minWorkers: 0,
      podConfig: { spec: { containers: [{ name: "ray-node", image: "rayproject/ray:2.60.0" }] } },
    }),
    context: [set(["spec", "headPodType"], "type-0")],
  },
  { path: [...podSpec(1), "containers"], max: 32, item: (i) => ({ name: `c${i}`, image: "busybox" }) },
  { path: [...podSpec(1), "initContainers"], max: 32, item: (i) => ({ name: `init${i}`, image: "busybox" }) },
  { path: ["spec", "headServicePorts"], max: 32, item: (i) => ({ name: `p${i}`, port: 20000 + i }) },
  { path: ["spec", "workerStartRayCommands"], max: 64, item: (i) => `echo ${i}` },
  { path: [...container(1), "resources", "limits"], max: 32, map: true, item: () => "1" },
  { path: ["spec", "podTypes", 0, "podConfig", "metadata", "labels"], max: 64, map: true, item: () => "v" },
  { path: ["spec", "podTypes", 1, "rayResources"], max: 64, map: true, item: () => 1 },
];

/** The keys of the i-th entry of a bounded map: names every rule accepts (extended resources for resources). */
export const boundedMapKey = (list: BoundedList, i: number): string =>
  list.path.includes("resources") ? `example.com/r${i}` : `k${i}`;

/** The value a bounded list or map holds with `n` items. */
export function boundedListValue(list: BoundedList, n: number): JsonValue {
  const items = Array.from({ length: n }, (_, i) => list.item(i));
  return list.map ? Object.fromEntries(items.map((v, i) => [boundedMapKey(list, i), v])) : items;
}

const NUMERIC_FIELDS: PathSegment[][] = [
  ["spec", "maxWorkers"],
  ["spec", "upscalingSpeed"],
  ["spec", "idleTimeoutMinutes"],
  ["spec", "podTypes", 1, "minWorkers"],
  ["spec", "podTypes", 1, "maxWorkers"],
  ["spec", "podTypes", 0, "maxWorkers"],
  ["spec", "podTypes", 1, "rayResources", "Custom1"],
  [...container(0), "ports", 0, "containerPort"],
  [...podSpec(1), "terminationGracePeriodSeconds"],
  [...podSpec(1), "securityContext", "runAsUser"],
];

const STRING_FIELDS: PathSegment[][] = [
  ["spec", "headPodType"],
  ["spec", "podTypes", 1, "name"],
  [...container(1), "image"],
  [...container(1), "name"],
  [...container(1), "imagePullPolicy"],
  [...podSpec(1), "restartPolicy"],
  [...podSpec(1), "serviceAccountName"],
  ["spec", "podTypes", 1, "podConfig", "metadata", "generateName"],
];

const LIST_FIELDS: PathSegment[][] = [
  [...podSpec(1), "containers"],
  [...container(1), "args"],
  [...container(1), "env"],
  ["spec", "podTypes", 1, "setupCommands"],
  ["spec", "headStartRayCommands"],
];

const OBJECT_FIELDS: PathSegment[][] = [
  [...container(1), "resources"],
  [...container(1), "resources", "limits"],
  ["spec", "podTypes", 1, "rayResources"],
  [...podSpec(1), "securityContext"],
  ["spec", "podTypes", 1, "podConfig", "metadata", "labels"],
];

/** Any of these JSON values (typed as JSON, not as the literals fast-check would infer). */
const jsonOf = (...values: JsonValue[]): fc.Arbitrary<JsonValue> => fc.constantFrom(...values);

/** A value of the wrong type for a field: numbers as text, text as numbers, lists as objects... */
const wrongTypes: fc.Arbitrary<Edit> = fc
  .oneof(
    fc.tuple(
      fc.constantFrom(...NUMERIC_FIELDS),
      fc.oneof(jsonOf("two", "3", "", "1e3", [1], { value: 1 }), fc.boolean()),
    ),
    fc.tuple(
      fc.constantFrom(...STRING_FIELDS),
      fc.oneof(jsonOf(["x"], { name: "x" }), fc.integer({ min: -5, max: 5 }), fc.boolean()),
    ),
    fc.tuple(fc.constantFrom(...LIST_FIELDS), fc.oneof(jsonOf("ray start", { name: "x" }), fc.integer())),
    fc.tuple(fc.constantFrom(...OBJECT_FIELDS), fc.oneof(jsonOf("cpu: 1", [{ cpu: "1" }]), fc.integer())),
  )
  .map(([path, value]) => set(path, value));

/** A number around, or far beyond, a field's bounds; and some harmless ones. */
const outOfRange: fc.Arbitrary<Edit> = fc
  .tuple(
    fc.constantFrom(...BOUNDED_FIELDS),
    fc.oneof(
      fc.constantFrom(-1, 0, 1, 2.5, 2 ** 31, 2 ** 53, 1e18, -0.5, 65536, 1e15),
      fc.integer({ min: -10, max: 10 }),
      fc.double({ min: -1e6, max: 1e6, noNaN: true }),
    ),
  )
  .map(([field, value]) => set(field.path, value));

/** Quantities as users write them, right and wrong, in requests and limits, as text or as numbers. */
export const quantityText: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    "1",
    "500m",
    "1.5",
    "2Gi",
    "512Mi",
    "1e3",
    "1E",
    "0",
    "+1",
    ".5",
    "1.",
    "m",
    "Ki",
    "1e999",
    "1000000000000000000",
  ),
  fc.constantFrom(
    "512 Mi",
    "1GB",
    "1gi",
    "one",
    "",
    "-1",
    "-0",
    "1.5.5",
    "1e",
    "1e1.5",
    "Pi",
    " 1",
    "1KiB",
    "0x10",
    "1,5",
  ),
  fc
    .array(fc.constantFrom(..."0123456789.+-eEimkKMGTPnu".split(""), "Ki", "Mi", "Gi", "Ei"), {
      minLength: 1,
      maxLength: 8,
    })
    .map((parts) => parts.join("")),
);

const quantities: fc.Arbitrary<Edit> = fc
  .tuple(
    podType,
    fc.constantFrom("requests", "limits"),
    fc.constantFrom("cpu", "memory", "ephemeral-storage", "nvidia.com/gpu", "gpu", "hugepages-2Mi"),
    fc.oneof(quantityText, fc.constantFrom(0.5, 1, 2, -1, 1e18, 1e21, 0.001)),
  )
  .map(([t, kind, name, value]) => set([...container(t), "resources", kind, name], value));

/** What goes wrong with container lists: none, duplicates, no image, bad names, too many. */
const containerLists: fc.Arbitrary<Edit> = fc.oneof(
  podType.map((t) => set([...podSpec(t), "containers"], [])),
  podType.map((t) => set([...podSpec(t), "containers", 1], { name: "ray-node", image: "busybox" })),
  podType.map((t) => set([...podSpec(t), "containers", 1], { name: "sidecar" })),
  fc
    .tuple(podType, fc.constantFrom("Sidecar", "side car", "side_car", "-sidecar", "x".repeat(64), "sidecar-1"))
    .map(([t, name]) => set([...podSpec(t), "containers", 1], { name, image: "busybox" })),
  fc.tuple(podType, fc.integer({ min: 31, max: 34 })).map(([t, n]) =>
    set(
      [...podSpec(t), "containers"],
      Array.from({ length: n }, (_, i) => ({ name: `c${i}`, image: "busybox" })),
    ),
  ),
  podType.map((t) =>
    set(
      [...podSpec(t), "initContainers"],
      [
        { name: "init", image: "busybox" },
        { name: "init", image: "busybox" },
      ],
    ),
  ),
  podType.map((t) => set([...podSpec(t), "ephemeralContainers"], [{ name: "debug", image: "busybox" }])),
);

/** A key misspelt where people misspell it (a typo is refused under kubectl's strict validation). */
const TYPO_TARGETS: PathSegment[][] = [
  [...podSpec(1), "containers"],
  [...podSpec(1), "restartPolicy"],
  [...container(1), "image"],
  [...container(1), "resources"],
  [...container(1), "resources", "requests"],
  [...container(1), "imagePullPolicy"],
  ["spec", "podTypes", 1, "minWorkers"],
  ["spec", "podTypes", 1, "rayResources"],
  ["spec", "podTypes", 1, "podConfig", "metadata"],
  ["spec", "maxWorkers"],
];

const typos: fc.Arbitrary<Edit> = fc
  .tuple(fc.constantFrom(...TYPO_TARGETS), fc.constantFrom("z", "s", "drop", "upper", "snake"))
  .map(([path, how]) => {
    const key = String(path[path.length - 1]);
    const to =
      how === "drop"
        ? key.slice(0, -1)
        : how === "upper"
          ? key[0].toUpperCase() + key.slice(1)
          : how === "snake"
            ? key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`) + (/[A-Z]/.test(key) ? "" : "_")
            : key + how;
    return { kind: "rename", path, to };
  });

/** Values outside an enum, names that are no names, metadata a pod template cannot carry. */
const namesAndEnums: fc.Arbitrary<Edit> = fc.oneof(
  fc
    .constantFrom("IfNotPresnt", "ifNotPresent", "always", "Always", "")
    .map((v) => set([...container(1), "imagePullPolicy"], v)),
  fc.constantFrom("never", "Never", "OnFailure", "Sometimes").map((v) => set([...podSpec(1), "restartPolicy"], v)),
  fc.constantFrom("TCP", "tcp", "HTTP").map((v) => set([...container(0), "ports", 0, "protocol"], v)),
  fc
    .constantFrom("gcs", "GCS", "gcs-port-too-long", "1234", "g--s")
    .map((v) => set([...container(0), "ports", 0, "name"], v)),
  jsonOf(
    { team: "ray" },
    { "bad key!": "x" },
    { "example.com/team": "ray" },
    { team: "not a value" },
    { "/team": "x" },
  ).map((labels) => set(["spec", "podTypes", 1, "podConfig", "metadata", "labels"], labels)),
  fc.constantFrom("ray", "other").map((ns) => set(["spec", "podTypes", 1, "podConfig", "metadata", "namespace"], ns)),
  fc
    .constantFrom("worker-", "Worker-", "w.", "-w", "w_")
    .map((g) => set(["spec", "podTypes", 1, "podConfig", "metadata", "generateName"], g)),
);

/** Edits a user makes on purpose, which leave a cluster valid: the "or accepted" side of the tests. */
const harmless: fc.Arbitrary<Edit> = fc.oneof(
  fc.integer({ min: 3, max: BOUNDS.workers }).map((n) => set(["spec", "maxWorkers"], n)),
  fc.double({ min: 0, max: BOUNDS.upscalingSpeed, noNaN: true }).map((v) => set(["spec", "upscalingSpeed"], v)),
  fc.integer({ min: 0, max: 10080 }).map((n) => set(["spec", "idleTimeoutMinutes"], n)),
  fc
    .tuple(
      podType,
      fc.constantFrom("requests", "limits"),
      fc.constantFrom("cpu", "memory", "example.com/fpga"),
      jsonOf("1", "250m", "2Gi", "1e3", 1, 0, "4"),
    )
    .map(([t, kind, name, value]) => set([...container(t), "resources", kind, name], value)),
  fc.constantFrom("Always", "IfNotPresent", "Never").map((v) => set([...container(1), "imagePullPolicy"], v)),
  podType.map((t) =>
    set([...podSpec(t), "containers", 1], { name: "sidecar", image: "busybox", args: ["sleep", "1d"] }),
  ),
  jsonOf({ team: "ray", "example.com/tier": "gpu" }).map((labels) =>
    set(["spec", "podTypes", 1, "podConfig", "metadata", "labels"], labels),
  ),
  fc.integer({ min: 1, max: 64 }).map((n) => set(["spec", "podTypes", 1, "rayResources", "Custom2"], n)),
);

export type BreakageClass = "types" | "ranges" | "quantities" | "containers" | "typos" | "names";

export const BREAKAGES: Record<BreakageClass, fc.Arbitrary<Edit>> = {
  types: wrongTypes,
  ranges: outOfRange,
  quantities,
  containers: containerLists,
  typos,
  names: namesAndEnums,
};

/** A seed example with one to three edits, mostly breaking ones of any class, some harmless. */
export function brokenClusters(namespace: string): fc.Arbitrary<BrokenCluster> {
  const bases = {
    "example-cluster": exampleJson("example-cluster", namespace),
    "example-cluster2": exampleJson("example-cluster2", namespace),
  };
  return fc
    .tuple(
      fc.constantFrom("example-cluster" as const, "example-cluster2" as const),
      fc.array(
        fc.oneof({ arbitrary: fc.oneof(...Object.values(BREAKAGES)), weight: 2 }, { arbitrary: harmless, weight: 1 }),
        {
          minLength: 1,
          maxLength: 3,
        },
      ),
    )
    .map(([name, edits]) => broken(bases[name], edits));
}

/** A typed view for tests that go on to use a cluster the API server admitted. */
export const asRayCluster = (cluster: JsonObject): RayCluster => cluster as unknown as RayCluster;

/**
 * The paths inside a RayCluster that an API server message names: `spec.maxWorkers`,
 * `spec.podTypes[0].podConfig.spec.containers[0].resources.requests[memory]`, and the quoted ones of
 * a strict decoding error (`unknown field "spec.podTypes[1].minWorker"`).
 */
export function pathsNamedIn(message: string): string[] {
  return [...new Set(message.match(/\b(?:spec|metadata)(?:\.[A-Za-z0-9_\-/]+|\[[^\]\s]*\])+/g) ?? [])];
}
