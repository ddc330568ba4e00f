// What the operator may do, rule by rule. Each verb is one the operator's code calls; nothing else.
// Namespaced mode binds these rules with a Role in the watched namespace; cluster-wide mode with a
// ClusterRole. Leader election always uses a Role in the operator's own namespace.
import { GROUP, PLURAL } from "../api/v1/types";

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

export const OPERATOR_NAME = "ray-operator";
export const SERVICE_ACCOUNT = "ray-operator-serviceaccount";
export const ROLE = "ray-operator-role";
export const ROLE_BINDING = "ray-operator-rolebinding";
export const LEADER_ELECTION_ROLE = "ray-operator-leader-election";
export const LEADER_ELECTION_LEASE = "ray-operator-leader";

/** Rules for managing RayClusters and their children. */
export function operatorRules(): PolicyRule[] {
  return [
    // Informer on RayClusters; the operator never writes their spec.
    { apiGroups: [GROUP], resources: [PLURAL], verbs: ["get", "list", "watch"] },
    // Status is written through its own subresource only.
    { apiGroups: [GROUP], resources: [`${PLURAL}/status`], verbs: ["get", "patch", "update"] },
    // Owner references with blockOwnerDeletion need this where OwnerReferencesPermissionEnforcement is on.
    { apiGroups: [GROUP], resources: [`${PLURAL}/finalizers`], verbs: ["update"] },
    // Head and worker pods: label-filtered informer, create (and dry-run create), delete. No exec.
    { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch", "create", "delete"] },
    // The head Service: created once, patched when headServicePorts change.
    { apiGroups: [""], resources: ["services"], verbs: ["get", "list", "watch", "create", "patch"] },
    // An event for every pod created, deleted or failed, and for every status change worth telling.
    { apiGroups: [""], resources: ["events"], verbs: ["create", "patch"] },
  ];
}

/** Leader election on one named Lease; `create` cannot be limited by name in RBAC. */
export function leaderElectionRules(): PolicyRule[] {
  return [
    { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
    { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "update"], resourceNames: [LEADER_ELECTION_LEASE] },
  ];
}

export type WatchMode = "namespace" | "cluster";

const labels = { "app.kubernetes.io/name": OPERATOR_NAME, "app.kubernetes.io/component": "rbac" };

/** Every RBAC object for a mode, as plain Kubernetes objects. */
export function rbacObjects(namespace: string, mode: WatchMode): any[] {
  const subject = { kind: "ServiceAccount", name: SERVICE_ACCOUNT, namespace };
  const objects: any[] = [
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: SERVICE_ACCOUNT, namespace, labels } },
  ];
  if (mode === "namespace") {
    objects.push(
      { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name: ROLE, namespace, labels }, rules: operatorRules() },
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding",
        metadata: { name: ROLE_BINDING, namespace, labels },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: ROLE },
        subjects: [subject],
      },
    );
  } else {
    // Cluster-scoped names carry the namespace so two installs in one cluster do not collide.
    const name = `${ROLE}-${namespace}`;
    objects.push(
      { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: { name, labels }, rules: operatorRules() },
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRoleBinding",
        metadata: { name: `${ROLE_BINDING}-${namespace}`, labels },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name },
        subjects: [subject],
      },
    );
  }
  objects.push(
    { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name: LEADER_ELECTION_ROLE, namespace, labels }, rules: leaderElectionRules() },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: LEADER_ELECTION_ROLE, namespace, labels },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: LEADER_ELECTION_ROLE },
      subjects: [subject],
    },
  );
  return objects;
}
