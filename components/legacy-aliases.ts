// Moving a stack made before the component library onto it, in place.
//
// Up to commit 90e8fe2, index.ts registered one component per concern at the stack's root
// (RayClusterCrd "rayclusters", RayNamespace "namespace", OperatorRbac "operator-rbac", OperatorWorkload
// "operator"), each child named after its Kubernetes object. RayOperator holds the same objects under
// other URNs. Without aliases, `pulumi up` of such a stack would create them anew (the Kubernetes
// provider adopts objects that exist) and then delete the old URNs: the namespace, and every RayCluster
// in it, would go. With them, the engine sees the same resources and changes nothing.
import * as pulumi from "@pulumi/pulumi";
import { LEADER_ELECTION_ROLE, OPERATOR_NAME, ROLE, ROLE_BINDING, SERVICE_ACCOUNT } from "../builders/rbac";

const COMPONENT = "ray-operator:index:";
const K8S = {
  crd: "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition",
  namespace: "kubernetes:core/v1:Namespace",
  serviceAccount: "kubernetes:core/v1:ServiceAccount",
  role: "kubernetes:rbac.authorization.k8s.io/v1:Role",
  roleBinding: "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
  clusterRole: "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole",
  clusterRoleBinding: "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
  deployment: "kubernetes:apps/v1:Deployment",
};

/**
 * `type::name` of each resource of RayOperator `operatorName` → the URN it had in the per-concern
 * layout, for a stack whose namespace was `namespace`.
 */
export function perConcernUrns(operatorName: string, namespace: string): Map<string, string> {
  const root = `urn:pulumi:${pulumi.getStack()}::${pulumi.getProject()}::`;
  const n = operatorName;
  const le = `${n}-leader-election`;
  // [new type, new name, the old parent component's type (none: the stack itself), old name]
  const moves: Array<[string, string, string | undefined, string]> = [
    [`${COMPONENT}RayClusterCrd`, n, undefined, "rayclusters"],
    [K8S.crd, n, "RayClusterCrd", "rayclusters"],
    [`${COMPONENT}RayNamespace`, n, undefined, "namespace"],
    [K8S.namespace, n, "RayNamespace", namespace],
    [`${COMPONENT}OperatorRbac`, n, undefined, "operator-rbac"],
    [K8S.serviceAccount, n, "OperatorRbac", `serviceaccount-${SERVICE_ACCOUNT}`],
    [K8S.role, n, "OperatorRbac", `role-${ROLE}`],
    [K8S.roleBinding, n, "OperatorRbac", `rolebinding-${ROLE_BINDING}`],
    [K8S.role, le, "OperatorRbac", `role-${LEADER_ELECTION_ROLE}`],
    [K8S.roleBinding, le, "OperatorRbac", `rolebinding-${LEADER_ELECTION_ROLE}`],
    [K8S.clusterRole, n, "OperatorRbac", `clusterrole-${ROLE}-${namespace}`],
    [K8S.clusterRoleBinding, n, "OperatorRbac", `clusterrolebinding-${ROLE_BINDING}-${namespace}`],
    [`${COMPONENT}OperatorWorkload`, n, undefined, "operator"],
    [K8S.deployment, n, "OperatorWorkload", OPERATOR_NAME],
  ];
  // A child's URN carries its parent's type before its own (the parent's name is not in it).
  return new Map(
    moves.map(([type, name, parentType, oldName]) => {
      const oldType = parentType ? `${COMPONENT}${parentType}$${type}` : type;
      return [`${type}::${name}`, `${root}${oldType}::${oldName}`];
    }),
  );
}

/**
 * A transformation for a RayOperator's options (`transformations: [perConcernAliases(...)]`) that gives
 * each of its resources the URN it had in the per-concern layout as an alias. Harmless on a new stack.
 */
export function perConcernAliases(operatorName: string, namespace: string) {
  const urns = perConcernUrns(operatorName, namespace);
  return (args: pulumi.ResourceTransformationArgs): pulumi.ResourceTransformationResult | undefined => {
    const old = urns.get(`${args.type}::${args.name}`);
    return old ? { props: args.props, opts: pulumi.mergeOptions(args.opts, { aliases: [old] }) } : undefined;
  };
}
