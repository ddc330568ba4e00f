// What Ray sees on a node: its resources, read from the pod a node type runs in.
import type { ResolvedPodType } from "../api/v1/defaults";
import type { FieldError } from "../api/v1/validate";
import { parseQuantity } from "./quantity";

/**
 * The resources Ray sees on one node of a type: CPU, GPU and memory read from the Ray container's
 * limits (else requests), then `rayResources` on top. Errors name the offending field.
 */
export function nodeTypeResources(
  type: ResolvedPodType,
  path = "podType",
): { resources: Record<string, number>; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const resources: Record<string, number> = {};
  const container = type.podConfig?.spec?.containers?.[0];
  const read = (name: string): number | undefined => {
    for (const kind of ["limits", "requests"] as const) {
      const q: string | number | undefined = container?.resources?.[kind]?.[name];
      if (q === undefined) continue;
      try {
        return parseQuantity(q);
      } catch (e) {
        errors.push({
          field: `${path}.podConfig.spec.containers[0].resources.${kind}.${name}`,
          message: `Invalid value: ${JSON.stringify(q)}: ${(e as Error).message}`,
        });
        return undefined;
      }
    }
    return undefined;
  };
  const cpu = read("cpu");
  if (cpu !== undefined) resources.CPU = Math.ceil(cpu - 1e-9);
  const gpu = read("nvidia.com/gpu") ?? read("amd.com/gpu");
  if (gpu !== undefined && gpu > 0) resources.GPU = gpu;
  const memory = read("memory");
  if (memory !== undefined) resources.memory = Math.floor(memory);
  return { resources: { ...resources, ...type.rayResources }, errors };
}
