// What the operator may do, rule by rule. Each verb is one the operator's code calls; nothing else.
// Namespaced mode binds these rules with a Role in the watched namespace; cluster-wide mode with a
// ClusterRole. Leader election always uses a Role in the operator's own namespace.
import { GROUP, PLURAL } from "../api/v1/types";
import type {
  ClusterRole,
  ClusterRoleBinding,
  Manifest,
  Role,
  RoleBinding,
  ServiceAccount,
} from "../api/v1/kube-types";

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
export function operatorRules(mode: "cluster"): PolicyRule[];
export function operatorRules(mode: "namespace", namespace: string): PolicyRule[];
export function operatorRules(mode: WatchMode, namespace = ""): PolicyRule[] {
  // Exactly what the operator's requests use: test/integration/rbac-audit.test.ts walks the operator
  // through all it does with the API server's audit log on, and fails on a grant never used.
  return [
    // Informer on RayClusters (list, watch); the operator never writes their spec.
    { apiGroups: [GROUP], resources: [PLURAL], verbs: ["list", "watch"] },
    // Status is written through its own subresource only, as a merge patch.
    { apiGroups: [GROUP], resources: [`${PLURAL}/status`], verbs: ["patch"] },
    // Pods with blockOwnerDeletion need this where OwnerReferencesPermissionEnforcement is on (the
    // local control plane has it; the same test shows a create refused without it).
    { apiGroups: [GROUP], resources: [`${PLURAL}/finalizers`], verbs: ["update"] },
    // Head and worker pods: label-filtered informer (and a list by name), create (and dry-run), delete. No exec.
    { apiGroups: [""], resources: ["pods"], verbs: ["list", "watch", "create", "delete"] },
    // The head Service: created once, patched when headServicePorts change.
    { apiGroups: [""], resources: ["services"], verbs: ["list", "watch", "create", "patch"] },
    // Events: created, and patched when the same one repeats (its count goes up).
    { apiGroups: [""], resources: ["events"], verbs: ["create", "patch"] },
    // Namespaces' labels: a Pod Security level before any pod is created there, and in cluster-wide
    // mode which namespaces opted in. Namespaced, only its own (a Role can grant get on it by name).
    mode === "namespace"
      ? { apiGroups: [""], resources: ["namespaces"], verbs: ["get"], resourceNames: [namespace] }
      : { apiGroups: [""], resources: ["namespaces"], verbs: ["list", "watch"] },
  ];
}

/** Leader election on one named Lease; `create` cannot be limited by name in RBAC. */
export function leaderElectionRules(): PolicyRule[] {
  return [
    { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
    {
      apiGroups: ["coordination.k8s.io"],
      resources: ["leases"],
      verbs: ["get", "update"],
      resourceNames: [LEADER_ELECTION_LEASE],
    },
  ];
}

export type WatchMode = "namespace" | "cluster";

const RBAC_V1 = "rbac.authorization.k8s.io/v1";
type Rbac<T, Kind extends string> = Manifest<T, typeof RBAC_V1, Kind>;
/** One of the operator's RBAC objects; `kind` tells which. */
export type RbacObject =
  | Manifest<ServiceAccount, "v1", "ServiceAccount">
  | Rbac<Role, "Role">
  | Rbac<RoleBinding, "RoleBinding">
  | Rbac<ClusterRole, "ClusterRole">
  | Rbac<ClusterRoleBinding, "ClusterRoleBinding">;
type Subject = NonNullable<RoleBinding["subjects"]>[number];

const labels = { "app.kubernetes.io/name": OPERATOR_NAME, "app.kubernetes.io/component": "rbac" };

/** A (Cluster)Role with its rules and the (Cluster)RoleBinding that grants it to the operator. */
function grant(
  kind: "Role" | "ClusterRole",
  name: string,
  bindingName: string,
  namespace: string | undefined,
  rules: PolicyRule[],
  subject: Subject,
): RbacObject[] {
  const meta = (n: string) => ({ name: n, ...(namespace ? { namespace } : {}), labels });
  return [
    { apiVersion: RBAC_V1, kind, metadata: meta(name), rules },
    {
      apiVersion: RBAC_V1,
      kind: `${kind}Binding`,
      metadata: meta(bindingName),
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind, name },
      subjects: [subject],
    },
  ];
}

/** Every RBAC object for a mode, as plain Kubernetes objects. */
export function rbacObjects(namespace: string, mode: WatchMode): RbacObject[] {
  const subject: Subject = { kind: "ServiceAccount", name: SERVICE_ACCOUNT, namespace };
  return [
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: SERVICE_ACCOUNT, namespace, labels } },
    ...(mode === "namespace"
      ? grant("Role", ROLE, ROLE_BINDING, namespace, operatorRules("namespace", namespace), subject)
      : // Cluster-scoped names carry the namespace so two installs in one cluster do not collide.
        grant(
          "ClusterRole",
          `${ROLE}-${namespace}`,
          `${ROLE_BINDING}-${namespace}`,
          undefined,
          operatorRules("cluster"),
          subject,
        )),
    ...grant("Role", LEADER_ELECTION_ROLE, LEADER_ELECTION_ROLE, namespace, leaderElectionRules(), subject),
  ];
}
