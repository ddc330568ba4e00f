import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { API_VERSION, KIND, RayClusterSpec } from "../api/v1/types";
import { rayClusterProblems } from "../config/stack-config";
import { checkedArgs, knownArgs, throwIfInvalid } from "./args";
import type { RayOperator } from "./ray-operator";

/** One RayCluster. Its Kubernetes name is the resource's name. */
export interface RayClusterArgs {
  /**
   * The install that runs this cluster: the cluster goes into its namespace (unless `namespace` is
   * given) and is applied once its CRD and namespace exist.
   */
  operator?: RayOperator;
  /** Required without `operator`; with it, another namespace only if that operator watches it. */
  namespace?: pulumi.Input<string>;
  labels?: pulumi.Input<Record<string, string>>;
  annotations?: pulumi.Input<Record<string, string>>;
  /** Exactly a RayCluster's spec, as in the seed's example_cluster.yaml; checked as the API server would. */
  spec: pulumi.Input<RayClusterSpec>;
}

type KnownArgs = Partial<pulumi.Unwrap<Omit<RayClusterArgs, "operator">>>;

/** The RayCluster object args describe (the namespace left out while unknown). */
function object<A extends KnownArgs>(name: string, args: A) {
  const metadata = { name, namespace: args.namespace, labels: args.labels, annotations: args.annotations };
  return { apiVersion: API_VERSION, kind: KIND, metadata, spec: args.spec as A["spec"] };
}

/** Every problem of a RayCluster's args (those known so far), each starting with `args.<field>`. */
export function rayClusterArgsProblems(name: string, args: KnownArgs): string[] {
  // Without a spec there is nothing the API server's checks could say more than "spec is required".
  if (args.spec === undefined) return ["args.spec: required"];
  // The metadata's problems are named as args, not as the object's fields.
  return rayClusterProblems(object(name, args), "args").map((p) => p.replace(/^args\.metadata\./, "args."));
}

/**
 * One RayCluster custom resource, run by the operator of its namespace. With `operator` it waits for
 * that install's CRD and namespace; without, give it `dependsOn` whatever applies those.
 */
export class RayCluster extends pulumi.ComponentResource {
  readonly cluster: k8s.apiextensions.CustomResource;
  readonly namespace: pulumi.Output<string>;
  /** The spec as checked: what the RayCluster is applied with. */
  readonly spec: pulumi.Output<RayClusterSpec>;

  constructor(name: string, args: RayClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    const component = `RayCluster "${name}"`;
    const { operator, ...rest } = args;
    const problems = operator || rest.namespace !== undefined ? [] : ["args.namespace: required without args.operator"];
    const known = knownArgs(rest);
    // The spec is checked once it is known; a known spec with an unknown namespace waits for it too.
    if (known.spec !== undefined) problems.push(...rayClusterArgsProblems(name, known));
    throwIfInvalid(component, problems);
    const prerequisites = operator ? { dependsOn: operator.clusterPrerequisites } : {};
    super("ray-operator:index:RayCluster", name, {}, pulumi.mergeOptions(opts, prerequisites));

    const namespace = rest.namespace ?? operator!.namespace;
    const checked = checkedArgs(
      this,
      component,
      { ...rest, namespace },
      (a) => rayClusterArgsProblems(name, a),
      (a) => object(name, a),
    );
    this.cluster = new k8s.apiextensions.CustomResource(
      name,
      { apiVersion: API_VERSION, kind: KIND, metadata: checked.metadata, spec: checked.spec },
      { parent: this },
    );
    this.namespace = pulumi.output(namespace);
    this.spec = checked.spec;
    this.registerOutputs({ namespace: this.namespace });
  }
}
