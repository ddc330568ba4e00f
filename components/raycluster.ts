import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { API_VERSION, KIND, RayClusterSpec } from "../api/v1/types";

export interface RayClusterArgs {
  namespace: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  spec: RayClusterSpec;
}

/** One RayCluster custom resource; give it `dependsOn` the CRD so it is applied after it exists. */
export class RayClusterResource extends pulumi.ComponentResource {
  readonly cluster: k8s.apiextensions.CustomResource;

  constructor(name: string, args: RayClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ray-operator:index:RayCluster", name, {}, opts);
    this.cluster = new k8s.apiextensions.CustomResource(
      name,
      {
        apiVersion: API_VERSION,
        kind: KIND,
        metadata: { name, namespace: args.namespace, labels: args.labels, annotations: args.annotations },
        spec: args.spec,
      },
      { parent: this },
    );
    this.registerOutputs({});
  }
}
