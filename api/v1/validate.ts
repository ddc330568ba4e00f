// Admission-equivalent validation of a RayCluster, evaluated in-process from the CRD's own schema:
// OpenAPI checks through Ajv, then the schema's CEL rules through a CEL evaluator, after applying the
// schema's defaults, as the API server does. Pulumi config validation uses it so that a bad cluster
// fails `pulumi preview` with the same field paths `kubectl apply` would print; tests use it to check
// the rules before a real API server checks them again (test/integration/admission.test.ts compares
// the two on generated clusters).
import Ajv, { ErrorObject } from "ajv";
import {
  celEnv,
  celFunc,
  celMethod,
  CelMap,
  CelScalar,
  isCelError,
  listType,
  mapType,
  parse,
  plan,
  CelInput,
} from "@bufbuild/cel";
import { openAPIV3Schema } from "./crd";
import { API_VERSION, KIND, RayCluster } from "./types";
import { JsonValue, KUBERNETES_EXTENSIONS, StructuralSchema, ValidationRule } from "./structural-schema";
import { compareQuantities, isQuantity, parseQuantityExact } from "./quantity";

export interface FieldError {
  /** The field, written as Kubernetes does: `spec.podTypes[1].minWorkers`. */
  field: string;
  message: string;
}

export const formatFieldErrors = (errors: FieldError[]): string =>
  errors.map((e) => `${e.field}: ${e.message}`).join("\n");

type JsonObject = { [key: string]: JsonValue };
const isObject = (v: JsonValue | undefined): v is JsonObject =>
  typeof v === "object" && v !== null && !Array.isArray(v);

// Kubernetes' own keywords are not JSON Schema; Ajv must know them to stay strict about typos. Its
// strictTypes is off: Kubernetes puts string keywords (pattern, maxLength) on int-or-string nodes,
// which JSON Schema applies to strings only — as the API server does.
const ajv = new Ajv({ allErrors: true, useDefaults: true, validateFormats: false, strict: true, strictTypes: false });
for (const keyword of KUBERNETES_EXTENSIONS) ajv.addKeyword({ keyword });
const ajvValidate = ajv.compile(openAPIV3Schema);

// Kubernetes' CEL libraries, as far as the rules use them: `sum()` on lists and the quantity library.
// This evaluator has no opaque types, so a Quantity travels as a one-entry map holding its text; only
// `quantity()` makes one and only `compareTo` reads it.
const QUANTITY_TYPE = mapType(CelScalar.STRING, CelScalar.STRING);
const QUANTITY_KEY = "quantity";
const quantityText = (q: CelMap): string => String(q.get(QUANTITY_KEY));

const celFuncs = [
  celMethod("sum", listType(CelScalar.DYN), [], CelScalar.DYN, function () {
    const values = [...this];
    if (values.every((v) => typeof v === "bigint")) return values.reduce<bigint>((a, v) => a + (v as bigint), 0n);
    return values.reduce<number>((a, v) => a + Number(v), 0);
  }),
  celFunc("isQuantity", [CelScalar.STRING], CelScalar.BOOL, (text) => isQuantity(text)),
  celFunc("quantity", [CelScalar.STRING], QUANTITY_TYPE, (text) => {
    parseQuantityExact(text); // throws, as Kubernetes' quantity() errors, on a malformed one
    return new Map([[QUANTITY_KEY, text]]);
  }),
  celMethod("compareTo", QUANTITY_TYPE, [QUANTITY_TYPE], CelScalar.INT, function (other) {
    return BigInt(compareQuantities(parseQuantityExact(quantityText(this)), parseQuantityExact(quantityText(other))));
  }),
];

const celEnvironment = celEnv({ funcs: celFuncs });
type CelProgram = (ctx: { self: CelInput }) => unknown;
const compiledRules = new Map<string, CelProgram>();
/** Each rule is parsed and planned once. */
function compiled(rule: string): CelProgram {
  let program = compiledRules.get(rule);
  if (!program) {
    program = plan(celEnvironment, parse(rule)) as CelProgram;
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

function valueAt(data: JsonValue, pointer: string): JsonValue | undefined {
  let at: JsonValue | undefined = data;
  for (const raw of pointer.split("/").slice(1)) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(at)) at = at[Number(key)];
    else if (isObject(at)) at = at[key];
    else return undefined;
  }
  return at;
}

const show = (v: JsonValue | undefined) => JSON.stringify(v);
const size = (v: JsonValue | undefined) => (Array.isArray(v) ? v.length : isObject(v) ? Object.keys(v).length : 0);
const jsonType = (v: JsonValue | undefined) =>
  v === null ? "null" : Array.isArray(v) ? "array" : Number.isInteger(v) ? "integer" : typeof v;

/**
 * The errors after which the API server runs no CEL rule at all (hasBlockingErr in the apiextensions
 * registry: Required, NotSupported, TooLong, TooMany, TypeInvalid); after the others (a pattern, a
 * minimum, a duplicate) it still runs every rule.
 */
const BLOCKING_KEYWORDS = new Set(["required", "enum", "maxLength", "maxItems", "maxProperties", "type", "anyOf"]);

/** An Ajv error in the API server's words (field.Error's types: Required, Invalid, Too long...). */
function fromAjv(e: ErrorObject, data: JsonValue): FieldError | undefined {
  const at = jsonPointerToField(e.instancePath);
  const value = valueAt(data, e.instancePath);
  const p = e.params as Record<string, JsonValue>;
  // int-or-string: each branch of its anyOf fails on its own; the anyOf error says it once.
  if (/\/anyOf\/\d+\//.test(e.schemaPath)) return undefined;
  switch (e.keyword) {
    case "required":
      return {
        field: at ? `${at}.${String(p.missingProperty)}` : String(p.missingProperty),
        message: "Required value",
      };
    case "type":
      return { field: at, message: `Invalid value: "${jsonType(value)}": must be of type ${String(p.type)}` };
    case "anyOf":
      return { field: at, message: `Invalid value: "${jsonType(value)}": must be of type integer or string` };
    case "enum": {
      const allowed = (p.allowedValues as JsonValue[]).map(show).join(", ");
      return { field: at, message: `Unsupported value: ${show(value)}: supported values: ${allowed}` };
    }
    case "minimum":
    case "maximum": {
      const bound = e.keyword === "minimum" ? "greater" : "less";
      return {
        field: at,
        message: `Invalid value: ${show(value)}: must be ${bound} than or equal to ${String(p.limit)}`,
      };
    }
    case "multipleOf":
      return { field: at, message: `Invalid value: ${show(value)}: must be a multiple of ${String(p.multipleOf)}` };
    case "minItems":
      return { field: at, message: `Invalid value: ${size(value)}: must have at least ${String(p.limit)} items` };
    case "maxItems":
    case "maxProperties":
      return { field: at, message: `Too many: ${size(value)}: must have at most ${String(p.limit)} items` };
    case "minLength":
      return { field: at, message: `Invalid value: ${show(value)}: must be at least ${String(p.limit)} chars long` };
    case "maxLength":
      return { field: at, message: `Too long: may not be more than ${String(p.limit)} bytes` };
    case "pattern":
      return { field: at, message: `Invalid value: ${show(value)}: must match '${String(p.pattern)}'` };
    default:
      return { field: at, message: `Invalid value: ${show(value)}: ${e.message ?? e.keyword}` };
  }
}

/** The schema of an object's member: a declared property, else additionalProperties. */
const memberSchema = (schema: StructuralSchema, key: string): StructuralSchema | undefined =>
  schema.properties?.[key] ?? schema.additionalProperties;

/** Plain JSON → CEL values, typed by the schema: integers become int (bigint), objects become maps. */
function toCel(value: JsonValue, schema: StructuralSchema | undefined): CelInput {
  if (value === null) return null;
  if (Array.isArray(value)) return value.map((v) => toCel(v, schema?.items));
  if (isObject(value)) {
    const map = new Map<string, CelInput>();
    for (const [k, v] of Object.entries(value)) map.set(k, toCel(v, schema && memberSchema(schema, k)));
    return map;
  }
  const integral = schema?.type === "integer" || schema?.["x-kubernetes-int-or-string"];
  if (typeof value === "number" && integral && Number.isInteger(value)) return BigInt(value);
  return value;
}

/** Where the walk is: the path as field errors name it, and as the CEL validator names it. */
interface Location {
  /** Map entries as `.key`, as the OpenAPI validator and the strict decoder write them. */
  path: string;
  /** Map entries as `[key]`, as the API server writes the path of a failed CEL rule. */
  celPath: string;
}

const child = (at: Location, key: string, member: "property" | "entry"): Location => ({
  path: at.path ? `${at.path}.${key}` : key,
  celPath: member === "entry" ? `${at.celPath}[${key}]` : at.celPath ? `${at.celPath}.${key}` : key,
});
const element = (at: Location, i: number): Location => ({ path: `${at.path}[${i}]`, celPath: `${at.celPath}[${i}]` });

/**
 * Go decodes a JSON integer into an int64 only when it fits one; a larger one (10^19, 1e+21) becomes a
 * float, which `type: integer` refuses (beyond 2^53). JavaScript calls both integers.
 */
const TOO_BIG_FOR_INT64 = 2 ** 63;
const decodesAsFloat = (v: number) => Number.isInteger(v) && Math.abs(v) >= TOO_BIG_FOR_INT64;

/**
 * What Ajv does not cover: unknown fields, list-map key uniqueness and integers Go reads as floats
 * (the "structure" pass), and the CEL rules (the "rules" pass). Unknown fields are found as the API
 * server's pruning finds them, also inside a value of the wrong type (a list where an object belongs
 * has all its members' keys unknown). Returns whether it found a blocking error.
 */
function walk(
  value: JsonValue | undefined,
  schema: StructuralSchema | undefined,
  at: Location,
  errors: FieldError[],
  pass: "structure" | "rules",
): boolean {
  if (value === null || value === undefined) return false;
  let blocking = false;
  if (Array.isArray(value)) {
    const keys = schema?.["x-kubernetes-list-map-keys"];
    if (pass === "structure" && schema?.["x-kubernetes-list-type"] === "map" && keys) {
      const seen = new Set<string>();
      value.forEach((item, i) => {
        const keyValues = keys.map((k) => (isObject(item) ? item[k] : undefined));
        const key = JSON.stringify(keyValues);
        if (seen.has(key)) {
          const shown = keys.map((k, j) => `"${k}":${show(keyValues[j])}`).join(", ");
          errors.push({ field: element(at, i).path, message: `Duplicate value: {${shown}}` });
        }
        seen.add(key);
      });
    }
    value.forEach((item, i) => (blocking = walk(item, schema?.items, element(at, i), errors, pass) || blocking));
  } else if (isObject(value)) {
    // Kubernetes prunes (or, under strict field validation, refuses) what a schema does not declare,
    // but for the object's own metadata, which is an ObjectMeta whatever its schema says.
    const objectMeta = at.path === "metadata";
    const open = objectMeta || schema?.["x-kubernetes-preserve-unknown-fields"];
    for (const [k, v] of Object.entries(value)) {
      const declared = schema?.properties?.[k];
      if (declared) blocking = walk(v, declared, child(at, k, "property"), errors, pass) || blocking;
      else if (schema?.additionalProperties) {
        blocking = walk(v, schema.additionalProperties, child(at, k, "entry"), errors, pass) || blocking;
      } else if (!open && pass === "structure")
        errors.push({ field: child(at, k, "property").path, message: "unknown field" });
    }
  } else if (pass === "structure" && typeof value === "number" && decodesAsFloat(value)) {
    if (schema?.type === "integer" || schema?.["x-kubernetes-int-or-string"]) {
      errors.push({
        field: at.path,
        message: `Invalid value: "number": must be of type ${schema.type ?? "integer or string"}`,
      });
      blocking = true;
    }
  }
  if (pass === "rules" && schema)
    for (const rule of schema["x-kubernetes-validations"] ?? []) checkRule(rule, value, schema, at.celPath, errors);
  return blocking;
}

/** Runs a compiled rule; a CEL error and a thrown one (from our functions) both become an Error. */
function evaluate(expression: string, self: CelInput): unknown {
  try {
    const result = compiled(expression)({ self });
    return isCelError(result) ? new Error(result.message) : result;
  } catch (e) {
    return e instanceof Error ? e : new Error(String(e));
  }
}

function checkRule(
  rule: ValidationRule,
  value: JsonValue,
  schema: StructuralSchema,
  path: string,
  errors: FieldError[],
): void {
  const field = rule.fieldPath ? `${path}${rule.fieldPath}`.replace(/^\./, "") : path;
  const self = toCel(value, schema);
  const result = evaluate(rule.rule, self);
  if (result instanceof Error) {
    errors.push({ field, message: `Invalid value: rule ${show(rule.rule)} could not be evaluated: ${result.message}` });
  } else if (result !== true) {
    const fromExpression = rule.messageExpression ? evaluate(rule.messageExpression, self) : undefined;
    const message = typeof fromExpression === "string" ? fromExpression : (rule.message ?? `failed rule: ${rule.rule}`);
    errors.push({ field, message: `Invalid value: ${message}` });
  }
}

/**
 * Validates a RayCluster object as the API server would admit it under strict field validation
 * (kubectl's default). Returns the defaulted object (the input is not modified; it is a RayCluster
 * once `errors` is empty) and every error found, each naming its field.
 */
export function validateRayCluster(input: unknown): { object: RayCluster; errors: FieldError[] } {
  // Through JSON, as a request body goes: what JSON cannot carry (undefined) is not sent.
  const parsed = input === undefined ? {} : (JSON.parse(JSON.stringify(input)) as JsonValue);
  const object: JsonObject = isObject(parsed) ? parsed : {};
  const errors: FieldError[] = [];
  if (object.apiVersion !== API_VERSION)
    errors.push({ field: "apiVersion", message: `Invalid value: ${show(object.apiVersion)}: must be ${API_VERSION}` });
  if (object.kind !== KIND)
    errors.push({ field: "kind", message: `Invalid value: ${show(object.kind)}: must be ${KIND}` });
  let blocking = false;
  if (!ajvValidate(object)) {
    const seen = new Set<string>();
    for (const e of ajvValidate.errors ?? []) {
      blocking ||= BLOCKING_KEYWORDS.has(e.keyword);
      const fe = fromAjv(e, object);
      if (!fe) continue;
      const key = `${fe.field}|${fe.message}`;
      if (!seen.has(key)) errors.push(fe);
      seen.add(key);
    }
  }
  const root: Location = { path: "", celPath: "" };
  blocking = walk(object, openAPIV3Schema, root, errors, "structure") || blocking;
  // The API server runs the CEL rules unless a blocking error came first.
  if (!blocking) walk(object, openAPIV3Schema, root, errors, "rules");
  return { object: object as unknown as RayCluster, errors };
}
