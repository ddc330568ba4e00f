/**
 * The JSON merge patch (RFC 7386) that turns `before` into `after`: changed and new keys as in
 * `after`, removed keys as null. Arrays are replaced whole, as merge patch does.
 */
export function mergePatch(before: unknown, after: unknown): unknown {
  if (!isObject(before) || !isObject(after)) return after === undefined ? null : after;
  return objectPatch(before, after);
}

function objectPatch(before: JsonObject, after: JsonObject): JsonObject {
  const patch: JsonObject = {};
  for (const key of Object.keys(before)) if (!(key in after) || after[key] === undefined) patch[key] = null;
  for (const [key, value] of Object.entries(after)) {
    if (value === undefined) continue;
    if (isObject(value) && isObject(before[key])) {
      const sub = objectPatch(before[key], value);
      if (Object.keys(sub).length) patch[key] = sub;
    } else if (JSON.stringify(value) !== JSON.stringify(before[key])) patch[key] = value;
  }
  return patch;
}

type JsonObject = Record<string, unknown>;
const isObject = (v: unknown): v is JsonObject => !!v && typeof v === "object" && !Array.isArray(v);
