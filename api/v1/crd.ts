// The CustomResourceDefinition of rayclusters.cluster.ray.io: one structural schema for every field
// of the contract, defaults, CEL rules for what OpenAPI cannot say, and printer columns. This object is
// the single source of the API's validation: the Pulumi component installs it, `npm run render` writes
// it for kubectl users, and config validation (validate.ts) evaluates the very same schema and rules.
import { API_VERSION, CRD_NAME, GROUP, KIND, PLURAL, SHORT_NAMES, SINGULAR, VERSION } from "./types";
import { DEFAULTS } from "./defaults";
import { PodTemplateSchema, StructuralSchema } from "./structural-schema";
import podTemplateJson from "./generated/pod-schema.json";

export type JSONSchemaProps = StructuralSchema;

/** The Pod template's own schema, generated from Kubernetes' OpenAPI (scripts/schema/). */
export const POD_TEMPLATE_SCHEMA = podTemplateJson as PodTemplateSchema;

/** A Kubernetes label value: what node type names become on pods. */
const LABEL_VALUE = "^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$";
/** Pods, the Service and events are named after the cluster: `<cluster>-ray-head` must be a DNS-1035 label. */
export const MAX_CLUSTER_NAME = 54;
/** Also what keeps the CEL rules that iterate over podTypes within the API server's cost budget. */
export const MAX_POD_TYPES = 16;
const MAX_COMMANDS = 64;
const MAX_COMMAND_LENGTH = 4096;

/**
 * Upper bounds of the numbers, chosen so that every value the API server admits is one the operator
 * can honour (the schema's `format: int32` alone is not enforced: 10^18 workers used to be admitted).
 */
export const BOUNDS = {
  /**
   * Workers of one cluster, and of one type: Kubernetes' tested envelope is 5,000 nodes a cluster
   * and Ray's 2,000 nodes, and Ray runs one worker per node as a rule; the operator's heap grows by
   * ~14 MB per 1,000 pods (README, benchmark), so 5,000 also stays well within its memory.
   */
  workers: 5000,
  /**
   * A speed at or above maxWorkers already means unthrottled (Ray: "setting upscaling_speed to
   * max_workers is equivalent to setting it to infinity"); this leaves room above the worker cap.
   */
  upscalingSpeed: 10000,
  /** A year: "never" in practice, and exact as milliseconds in a double (the operator compares ms). */
  idleTimeoutMinutes: 525600,
  /**
   * Ray refuses to start a node with a resource above MAX_RESOURCE_QUANTITY = 100e12
   * (ray/_private/ray_constants.py), or with a fractional one ("must all be whole numbers").
   */
  rayResource: 100e12,
} as const;

const commandList = (description: string, dflt?: readonly string[]): StructuralSchema => ({
  type: "array",
  description,
  maxItems: MAX_COMMANDS,
  items: { type: "string", maxLength: MAX_COMMAND_LENGTH },
  ...(dflt ? { default: [...dflt] } : {}),
});

const workerCount = (description: string, dflt?: number): StructuralSchema => ({
  type: "integer",
  format: "int32",
  minimum: 0,
  maximum: BOUNDS.workers,
  description,
  ...(dflt !== undefined ? { default: dflt } : {}),
});

const port = (description: string): StructuralSchema => ({
  type: "integer",
  format: "int32",
  minimum: 1,
  maximum: 65535,
  description,
});

/**
 * `podConfig`: a Pod manifest embedded in the RayCluster, checked against the Pod's own schema, so
 * that a typo (`containerz:`), a wrong type or a malformed name or quantity is refused at admission
 * with its path named, instead of being stored and ignored. On top of the Pod's rules: the first
 * container runs Ray, so there must be one, with an image (a Pod needs one; a Pod template need not).
 */
function podConfigSchema(): StructuralSchema {
  const spec = structuredClone(POD_TEMPLATE_SCHEMA.podSpec);
  const containers = spec.properties?.containers;
  const container = containers?.items;
  if (!containers || !container?.properties?.image)
    throw new Error("the generated Pod schema has no containers[].image");
  containers.minItems = 1;
  containers.description = "The first container runs Ray.";
  container.required = [...new Set([...(container.required ?? []), "image"])];
  container.properties.image = { ...container.properties.image, minLength: 1 };
  spec.required = [...new Set([...(spec.required ?? []), "containers"])];
  return {
    type: "object",
    description: "The Pod manifest (metadata + spec) that pods of this type are built from.",
    required: ["spec"],
    properties: {
      apiVersion: { type: "string", enum: ["v1"], default: "v1" },
      kind: { type: "string", enum: ["Pod"], default: "Pod" },
      metadata: structuredClone(POD_TEMPLATE_SCHEMA.podTemplateMetadata),
      spec,
    },
  };
}

const podTypeSchema: StructuralSchema = {
  type: "object",
  required: ["name", "podConfig"],
  properties: {
    name: {
      type: "string",
      minLength: 1,
      maxLength: 63,
      pattern: LABEL_VALUE,
      description: "Unique name of the type; becomes the ray-user-node-type label.",
    },
    minWorkers: workerCount("Workers of this type kept at all times.", DEFAULTS.minWorkers),
    maxWorkers: workerCount("Cap on workers of this type (default: the global maxWorkers; 0 for the head type)."),
    rayResources: {
      type: "object",
      description:
        "Resources Ray sees on a node of this type (CPU, GPU, memory, or custom ones such as Custom1); " +
        "override what is read from the pod's requests and limits. Whole numbers, as Ray requires of a node.",
      additionalProperties: { type: "number", minimum: 0, maximum: BOUNDS.rayResource, multipleOf: 1 },
      maxProperties: 64,
    },
    setupCommands: commandList("Shell commands run in the pod before Ray starts."),
    podConfig: podConfigSchema(),
  },
  "x-kubernetes-validations": [
    {
      rule: "!has(self.maxWorkers) || self.minWorkers <= self.maxWorkers",
      message: "minWorkers must be less than or equal to maxWorkers",
      fieldPath: ".minWorkers",
      reason: "FieldValueInvalid",
    },
  ],
};

const specSchema: StructuralSchema = {
  type: "object",
  required: ["headPodType", "podTypes"],
  properties: {
    maxWorkers: workerCount("Cluster-wide cap on worker pods, head excluded.", DEFAULTS.maxWorkers),
    upscalingSpeed: {
      type: "number",
      minimum: 0,
      maximum: BOUNDS.upscalingSpeed,
      default: DEFAULTS.upscalingSpeed,
      description:
        "How fast to grow: at most max(5, upscalingSpeed x running workers of a type) pending launches per type.",
    },
    idleTimeoutMinutes: {
      type: "number",
      minimum: 0,
      maximum: BOUNDS.idleTimeoutMinutes,
      default: DEFAULTS.idleTimeoutMinutes,
      description: "A worker idle this long is removed, down to minWorkers.",
    },
    headPodType: {
      type: "string",
      minLength: 1,
      maxLength: 63,
      description: "The podTypes entry the head pod is built from.",
    },
    podTypes: {
      type: "array",
      minItems: 1,
      maxItems: MAX_POD_TYPES,
      "x-kubernetes-list-type": "map",
      "x-kubernetes-list-map-keys": ["name"],
      items: podTypeSchema,
    },
    headStartRayCommands: commandList("Commands that start Ray on the head pod.", DEFAULTS.headStartRayCommands),
    workerStartRayCommands: commandList(
      "Commands that start Ray on a worker pod; $RAY_HEAD_IP is the head Service.",
      DEFAULTS.workerStartRayCommands,
    ),
    headServicePorts: {
      type: "array",
      description:
        "Ports added to, or overriding by name, the head Service's defaults (gcs 6379, client 10001, dashboard 8265).",
      maxItems: 32,
      "x-kubernetes-list-type": "map",
      "x-kubernetes-list-map-keys": ["name"],
      items: {
        type: "object",
        required: ["name", "port"],
        properties: {
          name: { type: "string", minLength: 1, maxLength: 15, pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" },
          port: port("Port of the Service."),
          targetPort: port("Port on the head pod (default: port)."),
        },
      },
    },
  },
  "x-kubernetes-validations": [
    {
      rule: "self.podTypes.exists(t, t.name == self.headPodType)",
      message: "headPodType must name one of podTypes",
      fieldPath: ".headPodType",
      reason: "FieldValueInvalid",
    },
    {
      rule: "self.podTypes.all(t, has(t.maxWorkers) || t.name == self.headPodType || t.minWorkers <= self.maxWorkers)",
      message: "a type's minWorkers must not exceed the global maxWorkers when the type sets no maxWorkers of its own",
      fieldPath: ".podTypes",
      reason: "FieldValueInvalid",
    },
    {
      rule: "self.podTypes.map(t, t.minWorkers).sum() <= self.maxWorkers",
      message: "the minWorkers of all types add up to more than maxWorkers",
      fieldPath: ".maxWorkers",
      reason: "FieldValueInvalid",
    },
  ],
};

const conditionSchema: StructuralSchema = {
  type: "object",
  required: ["type", "status", "reason", "message", "lastTransitionTime"],
  properties: {
    type: { type: "string" },
    status: { type: "string", enum: ["True", "False", "Unknown"] },
    reason: { type: "string" },
    message: { type: "string" },
    observedGeneration: { type: "integer", format: "int64" },
    lastTransitionTime: { type: "string", format: "date-time" },
  },
};

const countsSchema = (extra: Record<string, StructuralSchema> = {}): StructuralSchema => ({
  type: "object",
  properties: {
    ...extra,
    desired: { type: "integer" },
    current: { type: "integer" },
    running: { type: "integer" },
    ready: { type: "integer" },
    outdated: { type: "integer" },
  },
});

const statusSchema: StructuralSchema = {
  type: "object",
  properties: {
    phase: {
      type: "string",
      enum: ["Pending", "Running", "Updating", "Restarting", "Error", "AutoscalingExceptionRecovery"],
    },
    observedGeneration: { type: "integer", format: "int64" },
    conditions: {
      type: "array",
      "x-kubernetes-list-type": "map",
      "x-kubernetes-list-map-keys": ["type"],
      items: conditionSchema,
    },
    launchConfig: { type: "string" },
    head: {
      type: "object",
      properties: {
        podName: { type: "string" },
        podIP: { type: "string" },
        serviceName: { type: "string" },
        serviceIP: { type: "string" },
      },
    },
    workers: countsSchema(),
    podTypes: { type: "array", items: countsSchema({ name: { type: "string" } }) },
    headRestarts: { type: "integer" },
    autoscaler: {
      type: "object",
      properties: {
        lastUpdateTime: { type: "string", format: "date-time" },
        targetWorkers: { type: "object", additionalProperties: { type: "integer" } },
        infeasible: { type: "array", items: { type: "string" } },
        nodeRequests: { type: "object", additionalProperties: { type: "integer" } },
        removed: { type: "array", items: { type: "string" } },
        draining: { type: "array", items: { type: "string" } },
        message: { type: "string" },
      },
    },
  },
};

export const openAPIV3Schema: StructuralSchema = {
  type: "object",
  description: "A Ray cluster: one head pod and autoscaled worker pods per type, run by the Ray operator.",
  required: ["spec"],
  properties: {
    apiVersion: { type: "string" },
    kind: { type: "string" },
    // At the root, a schema may restrict metadata.name (and nothing else of metadata): the API server
    // then names `metadata.name` in its refusal, where a rule on the root could only name the object.
    metadata: {
      type: "object",
      properties: {
        name: {
          type: "string",
          maxLength: MAX_CLUSTER_NAME,
          pattern: "^[a-z]([-a-z0-9]*[a-z0-9])?$",
          description:
            `A DNS-1035 label of at most ${MAX_CLUSTER_NAME} characters: ` +
            "the head Service is named <name>-ray-head.",
        },
      },
    },
    spec: specSchema,
    status: statusSchema,
  },
};

export const printerColumns = [
  { name: "Status", type: "string", jsonPath: ".status.phase", description: "Phase of the cluster" },
  {
    name: "Ready",
    type: "string",
    jsonPath: '.status.conditions[?(@.type=="Ready")].status',
    description: "Head and every desired worker running and ready",
  },
  { name: "Workers", type: "integer", jsonPath: ".status.workers.ready", description: "Ready worker pods" },
  { name: "Desired", type: "integer", jsonPath: ".status.workers.desired", description: "Worker pods wanted now" },
  {
    name: "Max",
    type: "integer",
    jsonPath: ".spec.maxWorkers",
    priority: 1,
    description: "Cluster-wide cap on workers",
  },
  { name: "Head IP", type: "string", jsonPath: ".status.head.podIP", priority: 1, description: "IP of the head pod" },
  { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
];

/** The CRD as a plain Kubernetes object (apiextensions.k8s.io/v1). */
export function rayClusterCrd(labels: Record<string, string> = {}) {
  return {
    apiVersion: "apiextensions.k8s.io/v1" as const,
    kind: "CustomResourceDefinition" as const,
    metadata: { name: CRD_NAME, ...(Object.keys(labels).length ? { labels: { ...labels } } : {}) },
    spec: {
      group: GROUP,
      scope: "Namespaced",
      names: {
        plural: PLURAL,
        singular: SINGULAR,
        kind: KIND,
        listKind: `${KIND}List`,
        shortNames: [...SHORT_NAMES],
        categories: ["ray"],
      },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: printerColumns,
          schema: { openAPIV3Schema },
        },
      ],
    },
  };
}

export { API_VERSION };
