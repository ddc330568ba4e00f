// Wiring only: read and validate the stack config, then build one component per concern.
import * as pulumi from "@pulumi/pulumi";
import { loadStackConfig } from "./config/stack-config";
import { RayClusterCrd } from "./components/crd";
import { RayNamespace } from "./components/namespace";
import { OperatorRbac } from "./components/rbac";
import { OperatorWorkload } from "./components/operator";
import { RayClusterResource } from "./components/raycluster";

// Throws before any resource is registered when a key or value is wrong.
const config = loadStackConfig(pulumi.runtime.allConfig());
const namespace = config.namespace.name;

const crd = new RayClusterCrd("rayclusters");
const ns = new RayNamespace("namespace", config.namespace);
const rbac = new OperatorRbac("operator-rbac", { namespace, watch: config.operator.watch }, { dependsOn: [ns] });
const operator = new OperatorWorkload("operator", { ...config.operator, namespace }, { dependsOn: [ns, rbac, crd] });
const clusters = Object.entries(config.clusters).map(
  ([name, c]) =>
    new RayClusterResource(
      name,
      { namespace, labels: c.labels, annotations: c.annotations, spec: c.spec },
      { dependsOn: [crd, ns] },
    ),
);

export const namespaceName = namespace;
export const crdName = crd.name;
export const operatorDeployment = operator.name;
export const serviceAccount = rbac.serviceAccountName;
export const rayClusters = clusters.map((c) => c.cluster.metadata.name);
export const next = [
  `kubectl -n ${namespace} get rayclusters`,
  `kubectl -n ${namespace} get pods`,
  `kubectl -n ${namespace} logs deploy/ray-operator | grep ^<cluster>:`,
  "pulumi destroy   # removes the clusters, the operator, RBAC, the namespace and the CRD",
];
