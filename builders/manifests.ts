// The plain-YAML view of the stack: the same objects the Pulumi program registers, grouped into the
// files of the seed so that `kubectl apply -f` users can follow its steps unchanged.
import { rayClusterCrd } from "../api/v1/crd";
import { API_VERSION, KIND } from "../api/v1/types";
import { StackConfig } from "../config/stack-config";
import { rbacObjects } from "./rbac";
import { operatorDeployment } from "./operator-workload";

const SEED_FILES: Record<string, string> = { "example-cluster": "example_cluster.yaml", "example-cluster2": "example_cluster2.yaml" };

export const clusterFileName = (name: string) => SEED_FILES[name] ?? `${name.replace(/-/g, "_")}.yaml`;

/** file name → objects, for every file `npm run render` writes. */
export function renderManifests(config: StackConfig): Record<string, any[]> {
  const namespace = config.namespace.name;
  const files: Record<string, any[]> = {
    "cluster_crd.yaml": [rayClusterCrd()],
    "operator.yaml": [...rbacObjects(namespace, config.operator.watch), operatorDeployment({ ...config.operator, namespace })],
  };
  for (const [name, c] of Object.entries(config.clusters)) {
    const metadata: Record<string, unknown> = { name };
    if (c.labels) metadata.labels = c.labels;
    if (c.annotations) metadata.annotations = c.annotations;
    files[clusterFileName(name)] = [{ apiVersion: API_VERSION, kind: KIND, metadata, spec: c.spec }];
  }
  return files;
}
