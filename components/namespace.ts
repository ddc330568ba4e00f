import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { namespaceObject, PodSecurityLevel } from "../builders/namespace";

export interface RayNamespaceArgs {
  name: pulumi.Input<string>;
  /** false: use a namespace that already exists; nothing is created or deleted. */
  create: boolean;
  /** The Pod Security level enforced on a namespace this creates. */
  podSecurity: pulumi.Input<PodSecurityLevel>;
}

/**
 * The namespace of the operator and its Ray clusters, created with Pod Security labels, or an existing
 * one. Its Kubernetes object is named like the component (`name`), as each child of RayOperator is.
 */
export class RayNamespace extends pulumi.ComponentResource {
  readonly name: pulumi.Output<string>;
  readonly namespace?: k8s.core.v1.Namespace;

  constructor(name: string, args: RayNamespaceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ray-operator:index:RayNamespace", name, {}, opts);
    if (args.create) {
      const metadata = pulumi
        .all([args.name, args.podSecurity])
        .apply(([namespace, level]) => namespaceObject(namespace, level).metadata);
      this.namespace = new k8s.core.v1.Namespace(name, { metadata }, { parent: this });
      this.name = this.namespace.metadata.name;
    } else {
      this.name = pulumi.output(args.name);
    }
    this.registerOutputs({ name: this.name });
  }
}
