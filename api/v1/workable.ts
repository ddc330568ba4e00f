// What the schema cannot reject but would make a RayCluster fail: the checks the operator makes before
// it touches anything (a cluster that fails them is marked Stalled), that config validation makes
// after the schema's own, and that the autoscaler makes before it asks Ray. Light on purpose: the
// operator loads it, not validate.ts (Ajv and CEL).
import { DefaultedRayCluster, ResolvedPodType, ResolvedSpec, headServicePorts } from "./defaults";
import type { Container } from "./kube-types";
import type { FieldError } from "./validate";
import { parseQuantity } from "./quantity";

const typePath = (spec: ResolvedSpec, type: ResolvedPodType) => `spec.podTypes[${spec.podTypes.indexOf(type)}]`;

/** Every quantity of every container, so a typo anywhere is reported before any pod is created. */
function quantityErrors(type: ResolvedPodType, path: string): FieldError[] {
  const errors: FieldError[] = [];
  const check = (containers: Container[] | undefined, field: string) =>
    (containers ?? []).forEach((c, i) => {
      for (const kind of ["limits", "requests"] as const) {
        const quantities: Record<string, string | number> = c?.resources?.[kind] ?? {};
        for (const [name, q] of Object.entries(quantities)) {
          try {
            parseQuantity(q);
          } catch (e) {
            errors.push({
              field: `${path}.podConfig.spec.${field}[${i}].resources.${kind}.${name}`,
              message: `Invalid value: ${JSON.stringify(q)}: ${(e as Error).message}`,
            });
          }
        }
      }
    });
  check(type.podConfig?.spec?.containers, "containers");
  check(type.podConfig?.spec?.initContainers, "initContainers");
  return errors;
}

/**
 * What the schema cannot reject but would make the cluster fail: bad quantities in a podConfig,
 * head Service ports that collide. The operator marks such a cluster Stalled and touches nothing.
 */
export function checkWorkable(rc: DefaultedRayCluster): FieldError[] {
  const spec = rc.spec;
  const errors: FieldError[] = [];
  if (!spec.podTypes.some((t) => t.name === spec.headPodType)) {
    errors.push({
      field: "spec.headPodType",
      message: `Invalid value: ${JSON.stringify(spec.headPodType)}: must name one of spec.podTypes`,
    });
  }
  for (const type of spec.podTypes) {
    const path = typePath(spec, type);
    if (!type.podConfig?.spec?.containers?.length)
      errors.push({
        field: `${path}.podConfig.spec.containers`,
        message: "Required value: the first container runs Ray",
      });
    errors.push(...quantityErrors(type, path));
  }
  const ports = headServicePorts(spec);
  const seen = new Map<number, string>();
  for (const p of ports) {
    if (seen.has(p.port)) {
      const i = spec.headServicePorts.findIndex((q) => q.name === p.name);
      errors.push({
        field: i >= 0 ? `spec.headServicePorts[${i}].port` : "spec.headServicePorts",
        message: `Duplicate value: ${p.port} (already used by port "${seen.get(p.port)}")`,
      });
    }
    seen.set(p.port, p.name);
  }
  return errors;
}
