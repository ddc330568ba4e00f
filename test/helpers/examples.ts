// The seed's example clusters, taken from the real dev stack config, as RayCluster objects.
import { join } from "path";
import { loadStackConfig, StackConfig } from "../../config/stack-config";
import { readStackFile } from "../../config/read-stack-file";
import { API_VERSION, KIND, RayCluster } from "../../api/v1/types";

export const ROOT = join(__dirname, "..", "..");

export function devStackConfig(): StackConfig {
  return loadStackConfig(readStackFile(join(ROOT, "Pulumi.dev.yaml")));
}

/** A RayCluster from the dev stack, as it would be applied to `namespace`. */
export function exampleCluster(name: "example-cluster" | "example-cluster2", namespace = "ray"): RayCluster {
  const c = devStackConfig().clusters[name];
  return structuredClone({ apiVersion: API_VERSION, kind: KIND, metadata: { name, namespace, ...(c.labels ? { labels: c.labels } : {}) }, spec: c.spec }) as RayCluster;
}

/** The same cluster with `edit` applied to a deep copy. */
export function edited(rc: RayCluster, edit: (rc: any) => void): RayCluster {
  const copy = structuredClone(rc);
  edit(copy);
  return copy;
}
