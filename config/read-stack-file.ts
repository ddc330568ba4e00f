// Reads a stack file (Pulumi.<stack>.yaml) into the flat `project:key` → JSON-text map that
// `pulumi.runtime.allConfig()` yields, so tools outside Pulumi validate config the same way.
import { readFileSync } from "fs";
import YAML from "yaml";

export function readStackFile(path: string): Record<string, string> {
  const doc = YAML.parse(readFileSync(path, "utf8")) ?? {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries<unknown>(doc.config ?? {}))
    out[k] = typeof v === "string" ? v : JSON.stringify(v);
  return out;
}
