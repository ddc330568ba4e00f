// The dev stack: read and validate the stack config, then use the component library as any program would.
import * as pulumi from "@pulumi/pulumi";
import { loadStackConfig } from "./config/stack-config";
import { perConcernAliases, RayCluster, RayOperator } from "./components";

// Throws before any resource is registered when a key or value is wrong.
const config = loadStackConfig(pulumi.runtime.allConfig());
const namespace = config.namespace.name;

const operator = new RayOperator(
  "ray-operator",
  {
    ...config.operator,
    namespace,
    createNamespace: config.namespace.create,
    podSecurity: config.namespace.podSecurity,
    crd: "install",
  },
  // A stack made before the component library keeps its objects in place (components/legacy-aliases.ts).
  { transformations: [perConcernAliases("ray-operator", namespace)] },
);
const clusters = Object.entries(config.clusters).map(
  ([name, c]) => new RayCluster(name, { operator, labels: c.labels, annotations: c.annotations, spec: c.spec }),
);

export const namespaceName = namespace;
export const crdName = operator.crdName;
export const operatorDeployment = operator.deploymentName;
export const serviceAccount = operator.serviceAccountName;
export const rayClusters = clusters.map((c) => c.cluster.metadata.name);
export const next = [
  `kubectl -n ${namespace} get rayclusters`,
  `kubectl -n ${namespace} get pods`,
  `kubectl -n ${namespace} logs deploy/ray-operator | grep ^<cluster>:`,
  "pulumi destroy   # removes the clusters, the operator, RBAC and the namespace; the CRD stays",
];
