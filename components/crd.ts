import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { rayClusterCrd } from "../api/v1/crd";

export interface RayClusterCrdArgs {
  labels?: Record<string, string>;
}

/**
 * The rayclusters.cluster.ray.io CustomResourceDefinition. It is cluster-wide, and deleting it deletes
 * every RayCluster in every namespace — other stacks' and other people's too — so `pulumi destroy`
 * leaves it (retainOnDelete); several stacks, in namespaces of their own, share it.
 */
export class RayClusterCrd extends pulumi.ComponentResource {
  readonly crd: k8s.apiextensions.v1.CustomResourceDefinition;
  readonly name: pulumi.Output<string>;

  constructor(name: string, args: RayClusterCrdArgs = {}, opts?: pulumi.ComponentResourceOptions) {
    super("ray-operator:index:RayClusterCrd", name, {}, opts);
    const obj = rayClusterCrd(args.labels);
    this.crd = new k8s.apiextensions.v1.CustomResourceDefinition(name, obj, { parent: this, retainOnDelete: true });
    this.name = this.crd.metadata.name;
    this.registerOutputs({ name: this.name });
  }
}
