// npm run schema:generate — writes api/v1/generated/pod-schema.json: the structural schema of a Pod
// template (metadata + spec) that the RayCluster CRD embeds as `podConfig`, so the API server refuses
// at admission what a Pod would refuse wherever a schema can say it: unknown fields, wrong types,
// malformed names and quantities, values outside an enum.
//
// Generated, not written by hand, from Kubernetes itself at the version the project pins
// (K8S_VERSION in scripts/toolchain/k8s.sh), all read from the Go module cache:
//   - k8s.io/kubernetes  api/openapi-spec/v3/api__v1_openapi.json     the Pod's OpenAPI v3 schema
//   - k8s.io/kubernetes  pkg/generated/openapi/zz_generated.openapi.go the enums that JSON leaves out
//   - k8s.io/apimachinery pkg/util/validation/validation.go            name formats and lengths
// and turned into a structural schema the API server accepts for a CRD (what KubeRay gets from
// controller-gen for its PodTemplateSpec): `$ref`s inlined, int-or-string and Quantity as
// `x-kubernetes-int-or-string`, no descriptions or defaults, ObjectMeta cut to what a pod template
// carries, and bounds on the lists the CEL rules iterate over so their cost stays within the budget.
import { execFileSync } from "child_process";
import { readFileSync, writeFileSync } from "fs";
import { join } from "path";
import { HUGE_EXPONENT, quantityPattern } from "../../api/v1/quantity";
import { JsonValue, PodTemplateSchema, StructuralSchema, ValidationRule } from "../../api/v1/structural-schema";

const ROOT = join(__dirname, "..", "..");
export const OUTPUT = join(ROOT, "api", "v1", "generated", "pod-schema.json");
const TOOLCHAIN_SCRIPT = join(ROOT, "scripts", "toolchain", "k8s.sh");

const CORE = "io.k8s.api.core.v1.";
const QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity";
const INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
const OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

/** The OpenAPI v3 schema objects of Kubernetes' published spec, as far as PodSpec uses them. */
export interface OpenApiSchema {
  $ref?: string;
  allOf?: OpenApiSchema[];
  oneOf?: OpenApiSchema[];
  type?: StructuralSchema["type"];
  format?: string;
  description?: string;
  default?: JsonValue;
  properties?: Record<string, OpenApiSchema>;
  additionalProperties?: OpenApiSchema | boolean;
  items?: OpenApiSchema;
  required?: string[];
  "x-kubernetes-list-type"?: "atomic" | "set" | "map";
  "x-kubernetes-list-map-keys"?: string[];
  "x-kubernetes-map-type"?: "atomic" | "granular";
  // Dropped: CRD schemas have no use for them (and refuse some).
  "x-kubernetes-patch-merge-key"?: string;
  "x-kubernetes-patch-strategy"?: string;
  "x-kubernetes-unions"?: JsonValue;
}

export interface OpenApiDocument {
  components: { schemas: Record<string, OpenApiSchema> };
}

/** Enum values per definition and property, from the Go-generated OpenAPI (the JSON drops them). */
export type EnumTable = Map<string, Map<string, { values: string[]; on: "value" | "items" }>>;

export interface PodSchemaSources {
  kubernetesVersion: string;
  openApi: OpenApiDocument;
  enums: EnumTable;
  /** String and integer constants of k8s.io/apimachinery/pkg/util/validation. */
  formats: Map<string, string>;
}

// ---- Where Kubernetes' validation says more than its OpenAPI, and how the schema says it too ----

/**
 * Bounds the CEL rules need (a CRD's rules are refused when their estimated cost, multiplied by how
 * many times they can run, is above the API server's budget). A Pod has no such limits; these are far
 * above what a Ray pod template holds, and only where a rule iterates.
 */
export const POD_LIMITS = {
  /** Containers, and init containers, of one pod (the requests ≤ limits rule runs on each). */
  containers: 32,
  /** Resource names in one requests or limits map. */
  resourceNames: 32,
  /** Labels, and annotations, on one pod template (their keys are checked by a rule). */
  metadataEntries: 64,
  /** A quantity's text; a Pod takes longer ones, but nobody writes them and `quantity()` costs by length. */
  quantityLength: 64,
} as const;

/**
 * Lists that Kubernetes' OpenAPI declares as maps (or sets) but whose duplicates a Pod accepts with
 * only a warning (tried on the API server): kept atomic here, so the CRD is never stricter than a
 * Pod, and so that no `default` is needed on a key such as `protocol` — a default would be written
 * into every stored RayCluster and change the launch hash of running pods on the next CRD update.
 */
const LISTS_A_POD_ACCEPTS_DUPLICATES_IN = new Set([
  `${CORE}Container.env`,
  `${CORE}Container.ports`,
  `${CORE}PodSpec.hostAliases`,
  `${CORE}PodSpec.imagePullSecrets`,
  `${CORE}ContainerRestartRuleOnExitCodes.values`,
]);

/**
 * Where a quantity is checked by CEL rules — so that a bad one is named with its value and a readable
 * message — and where by the `pattern` alone (exact, but unreadable in a message; free of CEL cost in
 * lists the schema leaves unbounded). Keys: `definition.property`; `true` where a Pod also refuses a
 * value below zero (validation.ValidateResourceQuantityValue; an emptyDir's sizeLimit).
 */
const QUANTITIES_CHECKED_BY_RULES = new Map<string, { nonNegative: boolean }>([
  [`${CORE}ResourceRequirements.limits`, { nonNegative: true }],
  [`${CORE}ResourceRequirements.requests`, { nonNegative: true }],
  [`${CORE}PodSpec.overhead`, { nonNegative: true }],
]);
const NON_NEGATIVE_BY_PATTERN = new Set([`${CORE}EmptyDirVolumeSource.sizeLimit`]);

const QUANTITY_FORMAT =
  "a number with an optional suffix: m (1/1000), k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei, " +
  "or an exponent of at most 6 digits such as e3 (for example 500m, 2, 1.5Gi)";

/**
 * A CEL condition: the string `x` is a quantity the CRD admits. Kubernetes' parser is never handed an
 * exponent of seven digits or more (see HUGE_EXPONENT): it would spend seconds of the API server's CPU.
 */
const admissibleQuantity = (x: string) => `(!${x}.matches(r'${HUGE_EXPONENT}') && isQuantity(${x}))`;

const QUANTITY_RULES: Record<"syntax" | "nonNegative", ValidationRule> = {
  syntax: {
    rule: `type(self) == int || ${admissibleQuantity("self")}`,
    message: `must be a quantity: ${QUANTITY_FORMAT}`,
    // The API server shows no value for a failed rule; this message does.
    messageExpression: `'"' + string(self) + '" is not a quantity: ${QUANTITY_FORMAT}'`,
    reason: "FieldValueInvalid",
  },
  nonNegative: {
    // compareTo, not sign(): Kubernetes 1.34 declares sign as a function, not the method its documentation shows.
    rule:
      `type(self) == int ? self >= 0 : ` +
      `!${admissibleQuantity("self")} || quantity(self).compareTo(quantity('0')) >= 0`,
    message: "must be greater than or equal to 0",
    messageExpression: "string(self) + ' is below 0: must be greater than or equal to 0'",
    reason: "FieldValueInvalid",
  },
};

/** Formats from k8s.io/apimachinery/pkg/util/validation, anchored; lengths as Kubernetes checks them. */
function nameRules(formats: Map<string, string>) {
  const format = (name: string) => {
    const value = formats.get(name);
    if (value === undefined) throw new Error(`k8s.io/apimachinery/pkg/util/validation has no constant ${name}`);
    return value;
  };
  const length = (name: string) => Number(format(name));
  const dns1123Label: StructuralSchema = {
    type: "string",
    pattern: `^${format("dns1123LabelFmt")}$`,
    maxLength: length("DNS1123LabelMaxLength"),
  };
  const dns1123Subdomain: StructuralSchema = {
    type: "string",
    pattern: `^${format("dns1123SubdomainFmt")}$`,
    maxLength: length("DNS1123SubdomainMaxLength"),
  };
  // generateName: a prefix that, with the five characters Kubernetes appends, is a DNS-1123
  // subdomain — whole labels each followed by a dot, then the start of one.
  const label = format("dns1123LabelFmt");
  const generateName: StructuralSchema = {
    type: "string",
    pattern: `^(${label}\\.)*([a-z0-9][-a-z0-9]*)?$`,
    maxLength: length("DNS1123SubdomainMaxLength"),
  };
  const labelValue: StructuralSchema = {
    type: "string",
    pattern: `^${format("labelValueFmt")}$`,
    maxLength: length("LabelValueMaxLength"),
  };
  // A qualified name (label and annotation keys, resource names): an optional DNS-1123 subdomain and
  // "/", then a name; as CEL conditions on a string `k`.
  const qualifiedName = (k: string) =>
    `${k}.matches(r'^(${format("dns1123SubdomainFmt")}/)?${format("qualifiedNameFmt")}$') && ` +
    `${k}.matches(r'^([^/]{1,${length("DNS1123SubdomainMaxLength")}}/)?[^/]{1,${length("qualifiedNameMaxLength")}}$')`;
  const qualifiedNameText =
    `an optional DNS subdomain prefix and '/', then at most ${length("qualifiedNameMaxLength")} ` +
    "alphanumeric characters, '-', '_' or '.', starting and ending with an alphanumeric character";
  const keysAreQualifiedNames = (what: string): ValidationRule => ({
    rule: `self.all(k, ${qualifiedName("k")})`,
    message: `${what} keys must be qualified names: ${qualifiedNameText}`,
    reason: "FieldValueInvalid",
  });
  // validation.validateContainerResourceName: a qualified name; without a '/', a standard container
  // resource; with one outside kubernetes.io, an extended resource (helper.IsExtendedResourceName).
  const containerResourceNames = (field: "limits" | "requests"): ValidationRule => ({
    rule:
      `!has(self.${field}) || self.${field}.all(k, ${qualifiedName("k")} && (k.contains('/') ? ` +
      `k.contains('kubernetes.io/') || (!k.startsWith('requests.') && ${qualifiedName("('requests.' + k)")}) : ` +
      "k in ['cpu', 'memory', 'ephemeral-storage'] || k.startsWith('hugepages-')))",
    message:
      "resource names must be cpu, memory, ephemeral-storage, hugepages-<size>, " +
      "or an extended resource named with a domain, such as nvidia.com/gpu",
    fieldPath: `.${field}`,
    reason: "FieldValueInvalid",
  });
  // validation.IsValidPortName: 1-15 of [-a-z0-9], at least one letter, no '-' at either end or twice.
  const portName: StructuralSchema = {
    type: "string",
    pattern: "^([0-9]+-)*[0-9]*[a-z][a-z0-9]*(-[a-z0-9]+)*$",
    maxLength: 15,
  };
  return {
    dns1123Label,
    dns1123Subdomain,
    generateName,
    labelValue,
    keysAreQualifiedNames,
    containerResourceNames,
    portName,
  };
}

type NameRules = ReturnType<typeof nameRules>;

/** Per `definition.property`: what Kubernetes' Go validation checks that the OpenAPI does not say. */
function propertyRules(names: NameRules): Map<string, StructuralSchema> {
  return new Map<string, StructuralSchema>([
    [`${CORE}Container.name`, names.dns1123Label],
    [
      `${CORE}Container.resources`,
      {
        "x-kubernetes-validations": [names.containerResourceNames("limits"), names.containerResourceNames("requests")],
      },
    ],
    [`${CORE}Volume.name`, names.dns1123Label],
    [`${CORE}ContainerPort.name`, names.portName],
    [`${CORE}ContainerPort.containerPort`, { minimum: 1, maximum: 65535 }],
    [`${CORE}ContainerPort.hostPort`, { minimum: 0, maximum: 65535 }],
    [`${CORE}PodSpec.containers`, { maxItems: POD_LIMITS.containers }],
    [`${CORE}PodSpec.initContainers`, { maxItems: POD_LIMITS.containers }],
    [`${CORE}PodSpec.overhead`, { maxProperties: POD_LIMITS.resourceNames }],
    [`${CORE}ResourceRequirements.limits`, { maxProperties: POD_LIMITS.resourceNames }],
    [`${CORE}ResourceRequirements.requests`, { maxProperties: POD_LIMITS.resourceNames }],
  ]);
}

/** Rules on a whole definition, from Kubernetes' Go validation. */
const DEFINITION_RULES = new Map<string, ValidationRule[]>([
  [
    `${CORE}ResourceRequirements`,
    [
      {
        // validation.ValidateResourceRequirements: "must be less than or equal to <name> limit".
        rule:
          "!has(self.requests) || !has(self.limits) || self.requests.all(r, !(r in self.limits) || " +
          `!${admissibleQuantity("string(self.requests[r])")} || !${admissibleQuantity("string(self.limits[r])")} || ` +
          "quantity(string(self.requests[r])).compareTo(quantity(string(self.limits[r]))) <= 0)",
        message: "every request must be less than or equal to the limit of the same resource",
        fieldPath: ".requests",
        reason: "FieldValueInvalid",
      },
    ],
  ],
]);

/** Adds `extra` to a converted schema; validation rules are appended, not replaced. */
function withRules(schema: StructuralSchema, extra: StructuralSchema | undefined): StructuralSchema {
  if (!extra) return schema;
  const rules = [...(schema["x-kubernetes-validations"] ?? []), ...(extra["x-kubernetes-validations"] ?? [])];
  return { ...schema, ...extra, ...(rules.length ? { "x-kubernetes-validations": rules } : {}) };
}

// ---- The conversion ----

const refName = (ref: string) => ref.replace(/^#\/components\/schemas\//, "");

/** The definition a property points to, through `$ref` or a single-entry `allOf`. */
function referenced(schema: OpenApiSchema): string | undefined {
  if (schema.$ref) return refName(schema.$ref);
  if (schema.allOf?.length === 1 && schema.allOf[0].$ref) return refName(schema.allOf[0].$ref);
  return undefined;
}

/** A Quantity (a string or an integer) at `key`: checked by CEL rules or by an exact pattern. */
function quantitySchema(key: string): StructuralSchema {
  const base: StructuralSchema = {
    "x-kubernetes-int-or-string": true,
    anyOf: [{ type: "integer" }, { type: "string" }],
    maxLength: POD_LIMITS.quantityLength,
  };
  const byRules = QUANTITIES_CHECKED_BY_RULES.get(key);
  if (byRules) {
    const rules = [QUANTITY_RULES.syntax, ...(byRules.nonNegative ? [QUANTITY_RULES.nonNegative] : [])];
    return { ...base, "x-kubernetes-validations": rules.map((r) => ({ ...r })) };
  }
  return { ...base, pattern: quantityPattern({ nonNegative: NON_NEGATIVE_BY_PATTERN.has(key) }) };
}

const INT_OR_STRING_SCHEMA: StructuralSchema = {
  "x-kubernetes-int-or-string": true,
  anyOf: [{ type: "integer" }, { type: "string" }],
};

class Converter {
  private readonly rules: Map<string, StructuralSchema>;
  private readonly names: NameRules;

  constructor(private readonly sources: PodSchemaSources) {
    this.names = nameRules(sources.formats);
    this.rules = propertyRules(this.names);
  }

  definition(name: string, path: readonly string[] = []): StructuralSchema {
    if (path.includes(name)) throw new Error(`recursive schema: ${[...path, name].join(" -> ")}`);
    // Only in an ephemeral volume's claim template, which takes labels and annotations; their keys
    // are left to the PVC's own validation, as a rule under the unbounded volume list costs too much.
    if (name === OBJECT_META) return this.objectMeta(["labels", "annotations"], false);
    const source = this.sources.openApi.components.schemas[name];
    if (!source) throw new Error(`no definition ${name} in the OpenAPI document`);
    const out: StructuralSchema = { type: "object" };
    if (source["x-kubernetes-map-type"]) out["x-kubernetes-map-type"] = source["x-kubernetes-map-type"];
    if (source.required?.length) out.required = [...source.required];
    const properties: Record<string, StructuralSchema> = {};
    for (const [property, schema] of Object.entries(source.properties ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
      const key = `${name}.${property}`;
      if (key === `${CORE}PodSpec.ephemeralContainers`) {
        // A Pod refuses them on create ("cannot be set on create"): say so at admission, as "at most
        // 0 items" rather than as unknown fields of the items.
        properties[property] = {
          type: "array",
          maxItems: 0,
          items: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
        };
        continue;
      }
      const converted = this.property(schema, key, [...path, name]);
      properties[property] = withRules(converted, this.rules.get(key));
    }
    out.properties = properties;
    const definitionRules = DEFINITION_RULES.get(name);
    if (definitionRules) out["x-kubernetes-validations"] = definitionRules.map((r) => ({ ...r }));
    return out;
  }

  private property(schema: OpenApiSchema, key: string, path: readonly string[]): StructuralSchema {
    const ref = referenced(schema);
    if (ref === QUANTITY) return quantitySchema(key);
    if (ref === INT_OR_STRING) return { ...INT_OR_STRING_SCHEMA };
    if (ref) return this.definition(ref, path);
    const [definition, property] = [key.slice(0, key.lastIndexOf(".")), key.slice(key.lastIndexOf(".") + 1)];
    const enumeration = this.sources.enums.get(definition)?.get(property);
    const out: StructuralSchema = {};
    if (!schema.type) throw new Error(`${key}: no type and no reference`);
    out.type = schema.type;
    if (schema.format && ["int32", "int64", "double", "float", "byte"].includes(schema.format))
      out.format = schema.format;
    if (schema.type === "array") {
      if (!schema.items) throw new Error(`${key}: an array without items`);
      const items = this.property(schema.items, `${key}[]`, path);
      out.items = enumeration?.on === "items" ? { ...items, enum: withEmpty(enumeration.values) } : items;
      const listType = schema["x-kubernetes-list-type"];
      if (listType === "map" && !LISTS_A_POD_ACCEPTS_DUPLICATES_IN.has(key)) {
        out["x-kubernetes-list-type"] = "map";
        out["x-kubernetes-list-map-keys"] = [...(schema["x-kubernetes-list-map-keys"] ?? [])];
        this.checkMapKeys(key, out);
      } else if (listType) {
        out["x-kubernetes-list-type"] = "atomic";
      }
    } else if (schema.type === "object") {
      if (typeof schema.additionalProperties !== "object") throw new Error(`${key}: an object without a schema`);
      const ref = referenced(schema.additionalProperties);
      out.additionalProperties =
        ref === QUANTITY ? quantitySchema(key) : this.property(schema.additionalProperties, `${key}{}`, path);
      if (schema["x-kubernetes-map-type"]) out["x-kubernetes-map-type"] = schema["x-kubernetes-map-type"];
    } else if (enumeration?.on === "value") {
      out.enum = withEmpty(enumeration.values);
    }
    return out;
  }

  /** A map-list's keys must be required (a default would be stored into every RayCluster). */
  private checkMapKeys(key: string, list: StructuralSchema): void {
    for (const k of list["x-kubernetes-list-map-keys"] ?? []) {
      if (!list.items?.required?.includes(k))
        throw new Error(`${key}: list-map key ${k} is neither required nor kept atomic`);
    }
  }

  /** ObjectMeta reduced to the given fields of name, generateName, labels and annotations. */
  objectMeta(
    fields: ReadonlyArray<"name" | "generateName" | "labels" | "annotations">,
    checkKeys: boolean,
  ): StructuralSchema {
    const stringMap = (value: StructuralSchema, what: string): StructuralSchema => ({
      type: "object",
      additionalProperties: value,
      ...(checkKeys
        ? {
            maxProperties: POD_LIMITS.metadataEntries,
            "x-kubernetes-validations": [this.names.keysAreQualifiedNames(what)],
          }
        : {}),
    });
    const all: Record<string, StructuralSchema> = {
      name: this.names.dns1123Subdomain,
      generateName: this.names.generateName,
      labels: stringMap(this.names.labelValue, "label"),
      annotations: stringMap({ type: "string" }, "annotation"),
    };
    return { type: "object", properties: Object.fromEntries(fields.map((f) => [f, structuredClone(all[f])])) };
  }
}

/**
 * Go treats an empty string as an unset field, which a Pod defaults or ignores: `""` is accepted
 * wherever an enum is, so the CRD accepts it too.
 */
const withEmpty = (values: string[]) => (values.includes("") ? [...values] : [...values, ""]);

/** The pod template's schema from Kubernetes' sources. Pure. */
export function generatePodSchema(sources: PodSchemaSources): PodTemplateSchema {
  const converter = new Converter(sources);
  return {
    $comment:
      "Generated by `npm run schema:generate` (scripts/schema/generate-pod-schema.ts) from " +
      `k8s.io/kubernetes@${sources.kubernetesVersion}; do not edit. See README.md next to this file.`,
    kubernetesVersion: sources.kubernetesVersion,
    podTemplateMetadata: converter.objectMeta(["name", "generateName", "labels", "annotations"], true),
    podSpec: converter.definition(`${CORE}PodSpec`),
  };
}

// ---- Reading the sources ----

/** Enums of core/v1 from the Go-generated OpenAPI: `Enum:` under a property, or under its items. */
export function enumsFromGeneratedGo(source: string): EnumTable {
  const table: EnumTable = new Map();
  let definition: string | undefined;
  let property: string | undefined;
  for (const line of source.split("\n")) {
    const fn = /^func schema_k8sio_api_core_v1_(\w+)\(/.exec(line);
    if (fn) {
      definition = `${CORE}${fn[1]}`;
      property = undefined;
      continue;
    }
    if (line.startsWith("func ")) definition = undefined;
    if (!definition) continue;
    // gofmt'd generated code: a definition's properties sit at five tabs, their own schema at seven,
    // and their items' schema at ten.
    const prop = /^\t{5}"([^"]+)": \{$/.exec(line);
    if (prop) property = prop[1];
    const enumeration = /^(\t+)Enum:\s+\[\]interface\{\}\{(.*)\},$/.exec(line);
    if (!enumeration) continue;
    const depth = enumeration[1].length;
    if (!property || (depth !== 7 && depth !== 10))
      throw new Error(`unexpected Enum in ${definition} at depth ${depth}: ${line}`);
    const values = JSON.parse(`[${enumeration[2]}]`) as string[];
    if (!table.has(definition)) table.set(definition, new Map());
    table.get(definition)!.set(property, { values, on: depth === 7 ? "value" : "items" });
  }
  return table;
}

/** `const name [type] = <string literals, identifiers and integers joined by +>` of a Go file. */
export function goConstants(source: string): Map<string, string> {
  const constants = new Map<string, string>();
  const term = /\s*("(?:[^"\\]|\\.)*"|`[^`]*`|[A-Za-z_]\w*|\d+)\s*(\+|$)/y;
  for (const match of source.matchAll(/^const (\w+)(?: \w+)? = (.+)$/gm)) {
    let value = "";
    let resolved = true;
    term.lastIndex = 0;
    for (let t = term.exec(match[2]); t; t = term.exec(match[2])) {
      const token = t[1];
      if (token.startsWith('"')) value += JSON.parse(token) as string;
      else if (token.startsWith("`")) value += token.slice(1, -1);
      else if (/^\d+$/.test(token)) value += token;
      else if (constants.has(token)) value += constants.get(token);
      else resolved = false;
      if (t[2] === "") break;
    }
    if (resolved) constants.set(match[1], value);
  }
  return constants;
}

/** The Kubernetes version the toolchain builds: `K8S_VERSION` in scripts/toolchain/k8s.sh. */
export function pinnedKubernetesVersion(): string {
  const match = /K8S_VERSION="\$\{K8S_VERSION:-(v[0-9.]+)\}"/.exec(readFileSync(TOOLCHAIN_SCRIPT, "utf8"));
  if (!match) throw new Error(`no K8S_VERSION default in ${TOOLCHAIN_SCRIPT}`);
  return match[1];
}

/** A module's directory in the Go module cache, downloaded through the module proxy if missing. */
function goModuleDir(module: string, version: string): string {
  const out = execFileSync("go", ["mod", "download", "-json", `${module}@${version}`], { encoding: "utf8" });
  const info = JSON.parse(out) as { Dir?: string; Error?: string };
  if (!info.Dir) throw new Error(`go mod download ${module}@${version}: ${info.Error ?? "no directory"}`);
  return info.Dir;
}

/** Reads every source at the pinned version (the same staging version scheme k8s.sh uses). */
export function readPodSchemaSources(kubernetesVersion = pinnedKubernetesVersion()): PodSchemaSources {
  const kubernetes = goModuleDir("k8s.io/kubernetes", kubernetesVersion);
  const apimachinery = goModuleDir("k8s.io/apimachinery", kubernetesVersion.replace(/^v1\./, "v0."));
  const read = (dir: string, ...path: string[]) => readFileSync(join(dir, ...path), "utf8");
  return {
    kubernetesVersion,
    openApi: JSON.parse(read(kubernetes, "api", "openapi-spec", "v3", "api__v1_openapi.json")) as OpenApiDocument,
    enums: enumsFromGeneratedGo(read(kubernetes, "pkg", "generated", "openapi", "zz_generated.openapi.go")),
    formats: goConstants(read(apimachinery, "pkg", "util", "validation", "validation.go")),
  };
}

/** The file's exact text, so that a test can compare it byte for byte with what is committed. */
export const serialize = (schema: PodTemplateSchema) => `${JSON.stringify(schema, null, 1)}\n`;

if (require.main === module) {
  const schema = generatePodSchema(readPodSchemaSources());
  const text = serialize(schema);
  writeFileSync(OUTPUT, text);
  console.log(`wrote ${OUTPUT.slice(ROOT.length + 1)} (Kubernetes ${schema.kubernetesVersion}, ${text.length} bytes)`);
}
