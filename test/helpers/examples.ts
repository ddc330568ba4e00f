// The seed's example clusters, from the tests' own copy of the dev stack (test/fixtures/Pulumi.seed.yaml,
// never the user's Pulumi.dev.yaml), as RayCluster objects.
import { join } from "path";
import { loadStackConfig, StackConfig } from "../../config/stack-config";
import { readStackFile } from "../../config/read-stack-file";
import { API_VERSION, KIND, RayCluster } from "../../api/v1/types";
import { KWOK_PLACEMENT } from "../../scripts/cluster/control-plane";

export const ROOT = join(__dirname, "..", "..");
/** The stack config the project ships, as the tests' fixture. */
export const SEED_STACK_FILE = join(ROOT, "test", "fixtures", "Pulumi.seed.yaml");

export function seedStackConfig(): StackConfig {
  return loadStackConfig(readStackFile(SEED_STACK_FILE));
}

/** A RayCluster of the seed stack, as it would be applied to `namespace`. */
export function exampleCluster(name: "example-cluster" | "example-cluster2", namespace = "ray"): RayCluster {
  const c = seedStackConfig().clusters[name];
  return structuredClone({
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name, namespace, ...(c.labels ? { labels: c.labels } : {}) },
    spec: c.spec,
  }) as RayCluster;
}

/**
 * The same cluster with every pod type placed on the local cluster's simulated (kwok) nodes, where
 * pods reach Running without running anything: for tests of the operator's own logic at any scale.
 * Against another cluster (TEST_KUBECONFIG) it is left as it is.
 */
export function onSimulatedNodes(rc: RayCluster): RayCluster {
  if (process.env.TEST_KUBECONFIG) return rc;
  return edited(rc, (r) => {
    for (const t of r.spec.podTypes) {
      const spec = t.podConfig.spec;
      spec.nodeSelector = { ...(spec.nodeSelector ?? {}), ...KWOK_PLACEMENT.nodeSelector };
      spec.tolerations = [...(spec.tolerations ?? []), ...KWOK_PLACEMENT.tolerations];
    }
  });
}

/** A seed cluster on the simulated nodes (see onSimulatedNodes). */
export const simulatedCluster = (name: "example-cluster" | "example-cluster2", namespace = "ray") =>
  onSimulatedNodes(exampleCluster(name, namespace));

/** The same cluster with `edit` applied to a deep copy. */
export function edited(rc: RayCluster, edit: (rc: any) => void): RayCluster {
  const copy = structuredClone(rc);
  edit(copy);
  return copy;
}
