// The plain-YAML view of the stack: the same objects the Pulumi program registers, grouped into the
// files of the seed so that `kubectl apply -f` users can follow its steps unchanged.
import { rayClusterCrd } from "../api/v1/crd";
import { API_VERSION, KIND, RayCluster } from "../api/v1/types";
import type { Manifest, ObjectMeta } from "../api/v1/kube-types";
import { StackConfig } from "./stack-config";
import { rbacObjects } from "../builders/rbac";
import { namespaceObject } from "../builders/namespace";
import { operatorDeployment } from "../builders/operator-workload";

const SEED_FILES: Record<string, string> = {
  "example-cluster": "example_cluster.yaml",
  "example-cluster2": "example_cluster2.yaml",
};

export const clusterFileName = (name: string) => SEED_FILES[name] ?? `${name.replace(/-/g, "_")}.yaml`;

/** An object of a rendered file, whatever its kind. */
export type RenderedObject = Manifest<unknown, string, string>;

/** file name → objects, for every file `npm run render` writes. */
export function renderManifests(config: StackConfig): Record<string, RenderedObject[]> {
  const namespace = config.namespace.name;
  const files: Record<string, RenderedObject[]> = {
    "cluster_crd.yaml": [rayClusterCrd()],
    "operator.yaml": [
      // The namespace's labels (its Pod Security level, the operator's opt-in), applied over the
      // seed's `kubectl create namespace ray`: the operator creates no pod in a namespace without a
      // Pod Security level. Left out when the stack uses a namespace someone else manages.
      ...(config.namespace.create ? [namespaceObject(namespace, config.namespace.podSecurity)] : []),
      ...rbacObjects(namespace, config.operator.watch),
      operatorDeployment({ ...config.operator, namespace }),
    ],
  };
  for (const [name, c] of Object.entries(config.clusters)) {
    const metadata: ObjectMeta = { name };
    if (c.labels) metadata.labels = c.labels;
    if (c.annotations) metadata.annotations = c.annotations;
    const cluster: RayCluster = { apiVersion: API_VERSION, kind: KIND, metadata, spec: c.spec };
    files[clusterFileName(name)] = [cluster];
  }
  return files;
}
