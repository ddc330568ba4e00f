import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { LEADER_ELECTION_ROLE, RbacObject, rbacObjects, WatchMode } from "../builders/rbac";

export interface OperatorRbacArgs {
  namespace: pulumi.Input<string>;
  /** Decides which objects exist (a Role or a ClusterRole), so it is a plain value. */
  watch: WatchMode;
}

type OfKind<K extends RbacObject["kind"]> = Extract<RbacObject, { kind: K }>;

/**
 * A binding's roleRef with its API group spelt out. client-node 2 (Kubernetes 1.35 types) marks
 * roleRef.apiGroup optional while Pulumi's RoleRef still requires it; the API server defaults an
 * empty group to RBAC's own, so that is what an absent one means.
 */
function roleRefOf(binding: { roleRef: { apiGroup?: string; kind: string; name: string } }) {
  return { ...binding.roleRef, apiGroup: binding.roleRef.apiGroup ?? "rbac.authorization.k8s.io" };
}

/** ServiceAccount, (Cluster)Role and binding, and the leader-election Role of the operator. */
export class OperatorRbac extends pulumi.ComponentResource {
  readonly serviceAccountName: pulumi.Output<string>;
  readonly resources: pulumi.CustomResource[] = [];

  constructor(name: string, args: OperatorRbacArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ray-operator:index:OperatorRbac", name, {}, opts);
    const childOpts = { parent: this };
    const objects = pulumi.output(args.namespace).apply((namespace) => rbacObjects(namespace, args.watch));
    let serviceAccount: k8s.core.v1.ServiceAccount | undefined;
    // Which objects there are, and of which kind, depends on the watch mode alone; the namespace, which
    // may be known only later, fills in their names and fields. Children are named after the component
    // (two installs in one program stay apart), the leader election's pair with a suffix.
    rbacObjects("", args.watch).forEach((shape, i) => {
      const childName = shape.metadata.name === LEADER_ELECTION_ROLE ? `${name}-leader-election` : name;
      const nth = <K extends RbacObject["kind"]>(kind: K) =>
        objects.apply((all) => {
          const obj = all[i];
          // rbacObjects gives the same kinds in the same order for a mode, whatever the namespace.
          if (obj.kind !== kind) throw new Error(`RBAC object ${i} is a ${obj.kind}, expected a ${kind}`);
          return obj as OfKind<K>;
        });
      switch (shape.kind) {
        case "ServiceAccount":
          serviceAccount = new k8s.core.v1.ServiceAccount(childName, { metadata: nth(shape.kind).metadata }, childOpts);
          this.resources.push(serviceAccount);
          break;
        case "Role": {
          const r = nth(shape.kind);
          const role = { metadata: r.metadata, rules: r.apply((x) => x.rules ?? []) };
          this.resources.push(new k8s.rbac.v1.Role(childName, role, childOpts));
          break;
        }
        case "RoleBinding": {
          const b = nth(shape.kind);
          const binding = {
            metadata: b.metadata,
            roleRef: b.apply(roleRefOf),
            subjects: b.apply((x) => x.subjects ?? []),
          };
          this.resources.push(new k8s.rbac.v1.RoleBinding(childName, binding, childOpts));
          break;
        }
        case "ClusterRole": {
          const r = nth(shape.kind);
          const clusterRole = { metadata: r.metadata, rules: r.apply((x) => x.rules ?? []) };
          this.resources.push(new k8s.rbac.v1.ClusterRole(childName, clusterRole, childOpts));
          break;
        }
        case "ClusterRoleBinding": {
          const b = nth(shape.kind);
          const binding = {
            metadata: b.metadata,
            roleRef: b.apply(roleRefOf),
            subjects: b.apply((x) => x.subjects ?? []),
          };
          this.resources.push(new k8s.rbac.v1.ClusterRoleBinding(childName, binding, childOpts));
          break;
        }
        default:
          // Every kind rbacObjects makes has its case above.
          throw new Error(`unexpected RBAC object kind ${(shape as RbacObject).kind}`);
      }
    });
    if (!serviceAccount) throw new Error("rbacObjects made no ServiceAccount");
    this.serviceAccountName = serviceAccount.metadata.name;
    this.registerOutputs({ serviceAccountName: this.serviceAccountName });
  }
}
