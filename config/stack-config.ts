// The stack's configuration: its shape, its defaults, and validation that runs before a single
// resource is registered. A wrong key or value fails `pulumi preview` with the key named and what is
// expected; a RayCluster in config is checked against the CRD's own schema and CEL rules, so it
// fails here exactly where `kubectl apply` would fail later.
import Ajv, { ErrorObject, SchemaObject, ValidateFunction } from "ajv";
import { API_VERSION, KIND, RayClusterSpec } from "../api/v1/types";
import { validateRayCluster } from "../api/v1/validate";
import { defaulted } from "../api/v1/defaults";
import { compareQuantities, isQuantity, parseQuantityExact, quantityFromJson, quantitySign } from "../api/v1/quantity";
import { checkWorkable } from "../api/v1/workable";
import { PodSecurityLevel } from "../builders/namespace";
import { OPERATOR_DEFAULTS, OperatorWorkloadOptions } from "../builders/operator-workload";

export const PROJECT = "ray-operator";

export interface ClusterConfig {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  spec: RayClusterSpec;
}

export interface StackConfig {
  namespace: { name: string; create: boolean; podSecurity: PodSecurityLevel };
  operator: Omit<OperatorWorkloadOptions, "namespace">;
  clusters: Record<string, ClusterConfig>;
}

export const DEFAULT_OPERATOR_IMAGE = "ray-operator:0.1.0";

/** A Kubernetes quantity the operator's Deployment can request: one the API server parses, not below 0. */
const quantity = { type: ["string", "number"], format: "quantity", minimum: 0 };
const stringMap = { type: "object", additionalProperties: { type: "string" } };

/** JSON Schema of every key under `ray-operator:` (clusters' specs are checked by the CRD schema). */
const sections: Record<string, SchemaObject> = {
  namespace: {
    type: "object",
    additionalProperties: false,
    properties: {
      name: { type: "string", pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", maxLength: 63 },
      create: { type: "boolean" },
      podSecurity: { enum: ["privileged", "baseline", "restricted"] },
    },
  },
  operator: {
    type: "object",
    additionalProperties: false,
    properties: {
      image: { type: "string", minLength: 1 },
      imagePullPolicy: { enum: ["Always", "IfNotPresent", "Never"] },
      replicas: { type: "integer", minimum: 1, maximum: 10 },
      watch: { enum: ["namespace", "cluster"] },
      logLevel: { enum: ["debug", "info", "warn", "error"] },
      workers: { type: "integer", minimum: 1, maximum: 64 },
      autoscalerIntervalSeconds: { type: "number", minimum: 1, maximum: 300 },
      maxUnscheduledWorkers: { type: "integer", minimum: 0, maximum: 10000 },
      resources: {
        type: "object",
        additionalProperties: false,
        properties: {
          requests: { type: "object", additionalProperties: false, properties: { cpu: quantity, memory: quantity } },
          limits: { type: "object", additionalProperties: false, properties: { cpu: quantity, memory: quantity } },
        },
      },
    },
  },
  clusters: {
    type: "object",
    propertyNames: { pattern: "^[a-z]([-a-z0-9]*[a-z0-9])?$", maxLength: 54 },
    additionalProperties: {
      type: "object",
      additionalProperties: false,
      required: ["spec"],
      properties: { labels: stringMap, annotations: stringMap, spec: { type: "object" } },
    },
  },
};

const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true, verbose: true });
ajv.addFormat("quantity", {
  type: "string",
  validate: (text: string) => isQuantity(text) && quantitySign(parseQuantityExact(text)) >= 0,
});
const compiled = new Map<SchemaObject, ValidateFunction>();

/** The JSON Schema of the operator's settings, also what the RayOperator component's args are checked with. */
export const OPERATOR_SCHEMA: SchemaObject = sections.operator;
/** The JSON Schema of the namespace section (name, create, podSecurity). */
export const NAMESPACE_SCHEMA: SchemaObject = sections.namespace;

/**
 * What is wrong with `value` against `schema`, one line per problem, each starting with `at` and the
 * path of the field (`at.resources.requests.cpu: ...`). Stack config and component args share it, so a
 * mistake reads the same whichever way the operator is installed.
 */
export function schemaProblems(schema: SchemaObject, value: unknown, at: string): string[] {
  let validate = compiled.get(schema);
  if (!validate) compiled.set(schema, (validate = ajv.compile(schema)));
  return validate(value) ? [] : (validate.errors ?? []).map((e) => describe(at, schema, e));
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid stack configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

const show = (value: unknown) => JSON.stringify(value);

function describe(at0: string, schema: SchemaObject, e: ErrorObject): string {
  const path = e.instancePath
    .split("/")
    .slice(1)
    .map((p) => p.replace(/~1/g, "/"))
    .join(".");
  const at = `${at0}${path ? `.${path}` : ""}`;
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case "additionalProperties": {
      const expected = Object.keys(subSchema(schema, e.schemaPath)?.properties ?? {}).join(", ");
      return `${at}.${p.additionalProperty}: unknown key; expected one of: ${expected}`;
    }
    case "enum": {
      const allowed = (p.allowedValues as string[]).map((v) => JSON.stringify(v)).join(", ");
      return `${at}: expected one of ${allowed}, got ${JSON.stringify(e.data)}`;
    }
    case "format":
      return `${at}: must be a Kubernetes quantity of at least 0, such as 100m, 1 or 512Mi, got ${show(e.data)}`;
    case "propertyNames":
      return `${at}: cluster name ${JSON.stringify(p.propertyName)} must be a DNS-1035 label of at most 54 characters`;
    default:
      return `${at}: ${e.message}, got ${JSON.stringify(e.data)}`;
  }
}

function subSchema(schema: SchemaObject, schemaPath: string): SchemaObject | undefined {
  // "#/properties/resources/additionalProperties" → the schema object holding that keyword.
  const parts = schemaPath.replace(/^#\//, "").split("/").slice(0, -1);
  return parts.reduce<SchemaObject | undefined>((s, k) => s?.[k], schema);
}

/**
 * A request above its limit, defaults included (a memory request of 1Gi meets the default 512Mi limit),
 * makes the API server refuse every pod of the operator's Deployment: say so before `pulumi up` waits.
 * `at` names the operator's settings (`ray-operator:operator`), `short` how the hint refers to them.
 */
export function requestsAboveLimits(resources: OperatorSettings["resources"], at: string, short: string): string[] {
  const problems: string[] = [];
  for (const [name, request] of Object.entries(resources.requests)) {
    const limit = (resources.limits as Record<string, string | undefined>)[name];
    if (limit === undefined || compareQuantities(quantityFromJson(request), quantityFromJson(limit)) <= 0) continue;
    problems.push(
      `${at}.resources.requests.${name}: ${request} is above the ${name} limit, ${limit}; ` +
        `raise ${short}.resources.limits.${name}`,
    );
  }
  return problems;
}

/** A quantity in config: YAML may give a number. */
type ConfigQuantity = string | number;
type ConfigResources = { cpu?: ConfigQuantity; memory?: ConfigQuantity };

/** The operator's settings, every one set. */
export type OperatorSettings = StackConfig["operator"];
/** The operator's settings as OPERATOR_SCHEMA admits them: any may be left out. */
export type OperatorSettingsInput = Partial<Omit<OperatorSettings, "resources">> & {
  resources?: { requests?: ConfigResources; limits?: ConfigResources };
};

/** The sections as their schemas above admit them (what is read once they have passed). */
interface StackConfigInput {
  namespace?: { name?: string; create?: boolean; podSecurity?: PodSecurityLevel };
  operator?: OperatorSettingsInput;
  clusters?: Record<string, ClusterConfig>;
}

/** The namespace and Pod Security level when neither the stack config nor a component's args give them. */
export const NAMESPACE_DEFAULTS = { name: "ray", create: true, podSecurity: "baseline" } as const;

/** The operator's settings with a default for each one left out; quantities as strings. */
export function operatorSettings(op: OperatorSettingsInput): OperatorSettings {
  return {
    image: op.image ?? DEFAULT_OPERATOR_IMAGE,
    imagePullPolicy: op.imagePullPolicy ?? "IfNotPresent",
    replicas: op.replicas ?? 1,
    watch: op.watch ?? "namespace",
    logLevel: op.logLevel ?? "info",
    workers: op.workers ?? OPERATOR_DEFAULTS.workers,
    autoscalerIntervalSeconds: op.autoscalerIntervalSeconds ?? OPERATOR_DEFAULTS.autoscalerIntervalSeconds,
    maxUnscheduledWorkers: op.maxUnscheduledWorkers ?? OPERATOR_DEFAULTS.maxUnscheduledWorkers,
    resources: {
      requests: {
        cpu: String(op.resources?.requests?.cpu ?? "100m"),
        memory: String(op.resources?.requests?.memory ?? "128Mi"),
      },
      limits: {
        ...(op.resources?.limits?.cpu !== undefined ? { cpu: String(op.resources.limits.cpu) } : {}),
        memory: String(op.resources?.limits?.memory ?? "512Mi"),
      },
    },
  };
}

/**
 * What the API server (schema, CEL rules) and the operator (checkWorkable) would refuse in a
 * RayCluster, each problem as `<at>.<field>: <message>`; the door for config and components alike.
 */
export function rayClusterProblems(cluster: unknown, at: string): string[] {
  // The schema's defaults (as the API server applies them), then the API's own: the door.
  const { object: admitted, errors } = validateRayCluster(cluster);
  const workable = errors.length ? [] : checkWorkable(defaulted(admitted));
  return [...errors, ...workable].map((e) => `${at}.${e.field.replace(/^metadata\.labels/, "labels")}: ${e.message}`);
}

/** Structured config arrives as JSON text; plain values as strings. */
function decode(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

/**
 * Reads and validates the whole `ray-operator:` config namespace (as `pulumi.runtime.allConfig()`
 * returns it). Throws a ConfigError listing every problem; returns the config with defaults.
 */
export function loadStackConfig(all: Record<string, string>): StackConfig {
  const problems: string[] = [];
  const values: Record<string, unknown> = {};
  for (const [fullKey, raw] of Object.entries(all)) {
    const [ns, key] = fullKey.includes(":") ? fullKey.split(/:(.*)/s, 2) : ["", fullKey];
    if (ns !== PROJECT) continue;
    if (!(key in sections)) {
      problems.push(
        `${PROJECT}:${key}: unknown key; expected one of: ${Object.keys(sections)
          .map((k) => `${PROJECT}:${k}`)
          .join(", ")}`,
      );
      continue;
    }
    const value = decode(raw);
    if (key !== "namespace" || typeof value === "object") values[key] = value;
    else values[key] = { name: value }; // `pulumi config set namespace ray-prod` is allowed too
    problems.push(...schemaProblems(sections[key], values[key], `${PROJECT}:${key}`));
  }

  // Read as the schemas say; a value that failed them is listed in `problems`, and nothing below
  // but the resources' String() conversions runs before those are thrown.
  const input = values as StackConfigInput;
  const ns = input.namespace ?? {};
  const namespace = ns.name ?? NAMESPACE_DEFAULTS.name;
  const clusters: Record<string, ClusterConfig> = input.clusters ?? {};
  if (problems.length === 0) {
    for (const [name, c] of Object.entries(clusters)) {
      const metadata = { name, namespace, labels: c.labels };
      const object = { apiVersion: API_VERSION, kind: KIND, metadata, spec: c.spec };
      problems.push(...rayClusterProblems(object, `${PROJECT}:clusters.${name}`));
    }
  }
  const operator = operatorSettings(input.operator ?? {});
  if (problems.length === 0)
    problems.push(...requestsAboveLimits(operator.resources, `${PROJECT}:operator`, "operator"));
  if (problems.length) throw new ConfigError(problems);

  return {
    namespace: {
      name: namespace,
      create: ns.create ?? NAMESPACE_DEFAULTS.create,
      podSecurity: ns.podSecurity ?? NAMESPACE_DEFAULTS.podSecurity,
    },
    operator,
    clusters,
  };
}
