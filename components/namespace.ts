import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { namespaceObject, PodSecurityLevel } from "../builders/namespace";

export interface RayNamespaceArgs {
  name: string;
  /** false: use a namespace that already exists; nothing is created or deleted. */
  create: boolean;
  podSecurity: PodSecurityLevel;
}

/** The namespace of the operator and its Ray clusters, created with Pod Security labels, or an existing one. */
export class RayNamespace extends pulumi.ComponentResource {
  readonly name: string;
  readonly namespace?: k8s.core.v1.Namespace;

  constructor(name: string, args: RayNamespaceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ray-operator:index:RayNamespace", name, {}, opts);
    this.name = args.name;
    if (args.create)
      this.namespace = new k8s.core.v1.Namespace(args.name, namespaceObject(args.name, args.podSecurity), {
        parent: this,
      });
    this.registerOutputs({ name: this.name });
  }
}
