// The part of OpenAPI v3 that a CustomResourceDefinition's structural schema may use
// (apiextensions.k8s.io/v1 JSONSchemaProps, minus what structural schemas forbid), typed so that the
// CRD, its generated Pod schema and the in-process validator agree on one shape.

/** A JSON value, as found in `default` and `enum`. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** An `x-kubernetes-validations` entry: a CEL rule evaluated by the API server at admission. */
export type ValidationRule = {
  rule: string;
  message?: string;
  /** A CEL expression yielding the message (the `message` is used if it fails). */
  messageExpression?: string;
  /** Relative to the node that carries the rule, e.g. `.minWorkers`; where the error is reported. */
  fieldPath?: string;
  reason?: "FieldValueInvalid" | "FieldValueForbidden" | "FieldValueRequired" | "FieldValueDuplicate";
};

// A type alias, not an interface, so that it is assignable to Ajv's open SchemaObject.
export type StructuralSchema = {
  type?: "object" | "array" | "string" | "integer" | "number" | "boolean";
  format?: string;
  description?: string;
  properties?: Record<string, StructuralSchema>;
  additionalProperties?: StructuralSchema;
  items?: StructuralSchema;
  required?: string[];
  enum?: JsonValue[];
  default?: JsonValue;
  minimum?: number;
  maximum?: number;
  multipleOf?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  maxProperties?: number;
  /** Only in the one shape structural schemas allow: `[{type: integer}, {type: string}]` with int-or-string. */
  anyOf?: StructuralSchema[];
  "x-kubernetes-int-or-string"?: true;
  "x-kubernetes-preserve-unknown-fields"?: true;
  "x-kubernetes-embedded-resource"?: true;
  "x-kubernetes-list-type"?: "atomic" | "set" | "map";
  "x-kubernetes-list-map-keys"?: string[];
  "x-kubernetes-map-type"?: "atomic" | "granular";
  "x-kubernetes-validations"?: ValidationRule[];
};

/** The Kubernetes extensions a JSON Schema validator must be told about (Ajv's strict mode). */
export const KUBERNETES_EXTENSIONS = [
  "x-kubernetes-int-or-string",
  "x-kubernetes-preserve-unknown-fields",
  "x-kubernetes-embedded-resource",
  "x-kubernetes-list-type",
  "x-kubernetes-list-map-keys",
  "x-kubernetes-map-type",
  "x-kubernetes-validations",
] as const;

/** The generated schema of a pod template (api/v1/generated/pod-schema.json; scripts/schema/ writes it). */
export interface PodTemplateSchema {
  $comment: string;
  kubernetesVersion: string;
  /** ObjectMeta as a pod template may carry it: name, generateName, labels, annotations. */
  podTemplateMetadata: StructuralSchema;
  podSpec: StructuralSchema;
}
