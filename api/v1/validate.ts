// Admission-equivalent validation of a RayCluster, evaluated in-process from the CRD's own schema:
// OpenAPI checks through Ajv, then the schema's CEL rules through a CEL evaluator, after applying the
// schema's defaults, as the API server does. Pulumi config validation uses it so that a bad cluster
// fails `pulumi preview` with the same field paths `kubectl apply` would print; tests use it to check
// the rules before a real API server checks them again.
import Ajv, { ErrorObject } from "ajv";
import { celEnv, celMethod, listType, parse, plan, CelScalar, isCelError } from "@bufbuild/cel";
import { openAPIV3Schema, JSONSchemaProps } from "./crd";
import { API_VERSION, KIND } from "./types";

export interface FieldError {
  /** The field, written as Kubernetes does: `spec.podTypes[1].minWorkers`. */
  field: string;
  message: string;
}

export const formatFieldErrors = (errors: FieldError[]): string => errors.map((e) => `${e.field}: ${e.message}`).join("\n");

const K8S_KEYWORDS = [
  "x-kubernetes-embedded-resource",
  "x-kubernetes-preserve-unknown-fields",
  "x-kubernetes-validations",
  "x-kubernetes-list-type",
  "x-kubernetes-list-map-keys",
  "x-kubernetes-int-or-string",
];

const ajv = new Ajv({ allErrors: true, useDefaults: true, validateFormats: false, strict: true });
for (const keyword of K8S_KEYWORDS) ajv.addKeyword({ keyword });
const ajvValidate = ajv.compile(openAPIV3Schema);

// Kubernetes' CEL library adds `sum()` on lists; the rules use it, so the evaluator needs it too.
const celFuncs = [
  celMethod("sum", listType(CelScalar.DYN), [], CelScalar.DYN, function () {
    const values = [...(this as Iterable<unknown>)];
    if (values.every((v) => typeof v === "bigint")) return values.reduce<bigint>((a, v) => a + (v as bigint), 0n);
    return values.reduce<number>((a, v) => a + Number(v), 0);
  }),
];

const celEnvironment = celEnv({ funcs: celFuncs });
const compiledRules = new Map<string, (ctx: { self: unknown }) => unknown>();
/** Each rule is parsed and planned once. */
function compiled(rule: string) {
  let program = compiledRules.get(rule);
  if (!program) {
    program = plan(celEnvironment, parse(rule)) as (ctx: { self: unknown }) => unknown;
    compiledRules.set(rule, program);
  }
  return program;
}

/** `/spec/podTypes/1/minWorkers` → `spec.podTypes[1].minWorkers`. */
function jsonPointerToField(pointer: string): string {
  let out = "";
  for (const raw of pointer.split("/").slice(1)) {
    const part = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    out += /^\d+$/.test(part) ? `[${part}]` : out ? `.${part}` : part;
  }
  return out;
}

const show = (v: unknown) => JSON.stringify(v);

function fromAjv(e: ErrorObject, data: unknown): FieldError {
  const at = jsonPointerToField(e.instancePath);
  const value = e.instancePath.split("/").slice(1).reduce<any>((o, k) => (o == null ? o : o[k.replace(/~1/g, "/")]), data);
  const p = e.params as Record<string, any>;
  switch (e.keyword) {
    case "required":
      return { field: at ? `${at}.${p.missingProperty}` : p.missingProperty, message: "Required value" };
    case "type":
      return { field: at, message: `Invalid value: ${show(value)}: must be of type ${p.type}` };
    case "enum":
      return { field: at, message: `Unsupported value: ${show(value)}: supported values: ${(p.allowedValues as unknown[]).map(show).join(", ")}` };
    case "minimum":
    case "maximum":
      return { field: at, message: `Invalid value: ${show(value)}: must be ${e.keyword === "minimum" ? "greater" : "less"} than or equal to ${p.limit}` };
    case "minItems":
      return { field: at, message: `Invalid value: ${Array.isArray(value) ? value.length : 0}: must have at least ${p.limit} items` };
    case "maxItems":
      return { field: at, message: `Too many: ${Array.isArray(value) ? value.length : 0}: must have at most ${p.limit} items` };
    case "pattern":
      return { field: at, message: `Invalid value: ${show(value)}: must match '${p.pattern}'` };
    default:
      return { field: at, message: `Invalid value: ${show(value)}: ${e.message}` };
  }
}

/** Plain JSON → CEL values, typed by the schema: integers become int (bigint), objects become maps. */
function toCel(value: any, schema: JSONSchemaProps | undefined): any {
  if (value === null || value === undefined) return value;
  if (Array.isArray(value)) return value.map((v) => toCel(v, schema?.items));
  if (typeof value === "object") {
    const m = new Map<string, any>();
    for (const [k, v] of Object.entries(value)) {
      const child = schema?.properties?.[k] ?? (typeof schema?.additionalProperties === "object" ? schema.additionalProperties : undefined);
      m.set(k, toCel(v, child));
    }
    return m;
  }
  if (typeof value === "number" && schema?.type === "integer") return BigInt(Math.trunc(value));
  return value;
}

/** What Ajv does not cover: unknown fields, list-map key uniqueness, and the CEL rules. */
function walk(value: any, schema: JSONSchemaProps | undefined, path: string, errors: FieldError[], cel: boolean): void {
  if (!schema || value === null || value === undefined) return;
  if (Array.isArray(value)) {
    const keys: string[] | undefined = schema["x-kubernetes-list-map-keys"];
    if (schema["x-kubernetes-list-type"] === "map" && keys) {
      const seen = new Set<string>();
      value.forEach((item, i) => {
        const key = JSON.stringify(keys.map((k) => item?.[k]));
        if (seen.has(key)) errors.push({ field: `${path}[${i}]`, message: `Duplicate value: {${keys.map((k) => `"${k}":${show(item?.[k])}`).join(", ")}}` });
        seen.add(key);
      });
    }
    value.forEach((item, i) => walk(item, schema.items, `${path}[${i}]`, errors, cel));
  } else if (typeof value === "object") {
    const props: Record<string, JSONSchemaProps> = schema.properties ?? {};
    const closed = schema.properties && !schema["x-kubernetes-preserve-unknown-fields"] && schema.additionalProperties === undefined;
    for (const [k, v] of Object.entries(value)) {
      const childPath = path ? `${path}.${k}` : k;
      if (closed && !(k in props)) errors.push({ field: childPath, message: "unknown field" });
      else walk(v, props[k] ?? (typeof schema.additionalProperties === "object" ? schema.additionalProperties : undefined), childPath, errors, cel);
    }
  }
  if (!cel) return;
  for (const rule of (schema["x-kubernetes-validations"] ?? []) as Array<Record<string, string>>) {
    const result = compiled(rule.rule)({ self: toCel(value, schema) as any });
    const field = rule.fieldPath ? `${path}${rule.fieldPath}`.replace(/^\./, "") : path;
    if (isCelError(result)) errors.push({ field, message: `Invalid value: rule ${show(rule.rule)} could not be evaluated: ${result.message}` });
    else if (result !== true) errors.push({ field, message: `Invalid value: ${rule.message}` });
  }
}

/**
 * Validates a RayCluster object as the API server would admit it. Returns the defaulted object (the
 * input is not modified) and every error found, each naming its field.
 */
export function validateRayCluster(input: unknown): { object: any; errors: FieldError[] } {
  const object = structuredClone(input ?? {}) as any;
  const errors: FieldError[] = [];
  if (object.apiVersion !== API_VERSION) errors.push({ field: "apiVersion", message: `Invalid value: ${show(object.apiVersion)}: must be ${API_VERSION}` });
  if (object.kind !== KIND) errors.push({ field: "kind", message: `Invalid value: ${show(object.kind)}: must be ${KIND}` });
  if (!ajvValidate(object)) {
    const seen = new Set<string>();
    for (const e of ajvValidate.errors ?? []) {
      const fe = fromAjv(e, object);
      const key = `${fe.field}|${fe.message}`;
      if (!seen.has(key)) errors.push(fe);
      seen.add(key);
    }
  }
  // CEL rules assume a schema-valid object (the API server only runs them on one).
  walk(object, openAPIV3Schema, "", errors, errors.length === 0);
  return { object, errors };
}
