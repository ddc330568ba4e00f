import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { RbacObject, rbacObjects, WatchMode } from "../builders/rbac";

export interface OperatorRbacArgs {
  namespace: string;
  watch: WatchMode;
}

/** ServiceAccount, (Cluster)Role and binding, and the leader-election Role of the operator. */
export class OperatorRbac extends pulumi.ComponentResource {
  readonly serviceAccountName: pulumi.Output<string>;
  readonly resources: pulumi.CustomResource[] = [];

  constructor(name: string, args: OperatorRbacArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ray-operator:index:OperatorRbac", name, {}, opts);
    const childOpts = { parent: this };
    let serviceAccount: k8s.core.v1.ServiceAccount | undefined;
    for (const obj of rbacObjects(args.namespace, args.watch)) {
      const childName = `${obj.kind.toLowerCase()}-${obj.metadata.name}`;
      switch (obj.kind) {
        case "ServiceAccount":
          serviceAccount = new k8s.core.v1.ServiceAccount(childName, obj, childOpts);
          this.resources.push(serviceAccount);
          break;
        case "Role":
          this.resources.push(new k8s.rbac.v1.Role(childName, obj, childOpts));
          break;
        case "RoleBinding":
          this.resources.push(new k8s.rbac.v1.RoleBinding(childName, obj, childOpts));
          break;
        case "ClusterRole":
          this.resources.push(new k8s.rbac.v1.ClusterRole(childName, obj, childOpts));
          break;
        case "ClusterRoleBinding":
          this.resources.push(new k8s.rbac.v1.ClusterRoleBinding(childName, obj, childOpts));
          break;
        default:
          // Every kind rbacObjects makes has its case above.
          throw new Error(`unexpected RBAC object kind ${(obj as RbacObject).kind}`);
      }
    }
    this.serviceAccountName = serviceAccount!.metadata.name;
    this.registerOutputs({ serviceAccountName: this.serviceAccountName });
  }
}
