// Everything an operator test needs in its namespace: the CRD, the namespace with Pod Security
// labels, the RBAC the Pulumi program installs, and a kubeconfig with the ServiceAccount's token.
import * as k8s from "@kubernetes/client-node";
import { rayClusterCrd } from "../../api/v1/crd";
import { CRD_NAME, GROUP, PLURAL, VERSION } from "../../api/v1/types";
import { namespaceObject } from "../../builders/namespace";
import { rbacObjects, SERVICE_ACCOUNT } from "../../builders/rbac";
import { KubeRest } from "../../operator/kube/rest";
import { connectionOf } from "../../scripts/kube-connection";
import { serviceAccountToken, writeKubeconfigWithToken } from "../../scripts/operator-process";
import { apply, Clients, eventually } from "./kube";

export async function installCrd(c: Clients): Promise<void> {
  await apply(c, rayClusterCrd());
  await eventually("the RayCluster CRD to be established", async () => {
    const crd = await c.ext.readCustomResourceDefinition({ name: CRD_NAME });
    return crd.status?.conditions?.some((x) => x.type === "Established" && x.status === "True");
  });
}

/** Prepares `ns` like the Pulumi program would and returns a kubeconfig for the operator's ServiceAccount. */
export async function operatorNamespace(c: Clients, ns: string): Promise<string> {
  await installCrd(c);
  await apply(c, namespaceObject(ns, "baseline"));
  for (const obj of rbacObjects(ns, "namespace")) await apply(c, obj);
  return writeKubeconfigWithToken(c.kc, await serviceAccountToken(c.kc, ns, SERVICE_ACCOUNT), ns);
}

export const rayClusters = (c: Clients, ns: string) => ({
  create: (body: any) =>
    c.custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: PLURAL, body }),
  get: (name: string): Promise<any> =>
    c.custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: PLURAL, name }),
  replace: (body: any) =>
    c.custom.replaceNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: ns,
      plural: PLURAL,
      name: body.metadata.name,
      body,
    }),
  delete: (name: string) =>
    c.custom.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: PLURAL, name }),
});

/** `kubectl get rayclusters`, as the API server renders it (server-side printing of the CRD's columns). */
export async function rayClusterTable(kc: k8s.KubeConfig, ns: string): Promise<Array<Record<string, unknown>>> {
  const rest = await KubeRest.create(await connectionOf(kc));
  try {
    const table = await rest.request<any>("GET", `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${PLURAL}`, {
      accept: "application/json;as=Table;v=v1;g=meta.k8s.io",
    });
    const names: string[] = table.columnDefinitions.map((d: any) => d.name);
    return table.rows.map((r: any) => Object.fromEntries(names.map((n, i) => [n, r.cells[i]])));
  } finally {
    rest.close();
  }
}
