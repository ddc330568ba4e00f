import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { operatorDeployment, OperatorWorkloadOptions } from "../builders/operator-workload";
import { OPERATOR_NAME } from "../builders/rbac";

export type OperatorWorkloadArgs = OperatorWorkloadOptions;

/** The operator's Deployment. */
export class OperatorWorkload extends pulumi.ComponentResource {
  readonly deployment: k8s.apps.v1.Deployment;
  readonly name: pulumi.Output<string>;

  constructor(name: string, args: OperatorWorkloadArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ray-operator:index:OperatorWorkload", name, {}, opts);
    this.deployment = new k8s.apps.v1.Deployment(OPERATOR_NAME, operatorDeployment(args), { parent: this });
    this.name = this.deployment.metadata.name;
    this.registerOutputs({ name: this.name });
  }
}
