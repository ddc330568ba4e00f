import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { operatorDeployment, OperatorWorkloadOptions } from "../builders/operator-workload";

/** The Deployment's settings, given whole or as an Output of them (RayOperator passes its checked args). */
export type OperatorWorkloadArgs = pulumi.Input<OperatorWorkloadOptions>;

/** The operator's Deployment, named like the component. */
export class OperatorWorkload extends pulumi.ComponentResource {
  readonly deployment: k8s.apps.v1.Deployment;
  readonly name: pulumi.Output<string>;

  constructor(name: string, args: OperatorWorkloadArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ray-operator:index:OperatorWorkload", name, {}, opts);
    const deployment = pulumi.output(args).apply((o) => operatorDeployment(o));
    this.deployment = new k8s.apps.v1.Deployment(
      name,
      { metadata: deployment.metadata, spec: deployment.spec },
      { parent: this },
    );
    this.name = this.deployment.metadata.name;
    this.registerOutputs({ name: this.name });
  }
}
