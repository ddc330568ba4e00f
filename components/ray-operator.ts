// RayOperator: everything one install of the operator needs, as one component a Pulumi program creates
// the way it creates an `eks.Cluster`. Manifests come from builders/ (as for `npm run render` and the
// operator itself); this file only decides which exist and wires them.
import * as pulumi from "@pulumi/pulumi";
import type { SchemaObject } from "ajv";
import { CRD_NAME } from "../api/v1/types";
import type { PodSpec } from "../api/v1/kube-types";
import { PodSecurityLevel } from "../builders/namespace";
import { OperatorWorkloadOptions } from "../builders/operator-workload";
import { WatchMode } from "../builders/rbac";
import {
  NAMESPACE_DEFAULTS,
  NAMESPACE_SCHEMA,
  OPERATOR_SCHEMA,
  operatorSettings,
  OperatorSettings,
  requestsAboveLimits,
  schemaProblems,
} from "../config/stack-config";
import { asJson, checkedArgs, isKnown, knownArgs, throwIfInvalid } from "./args";
import { RayClusterCrd } from "./crd";
import { RayNamespace } from "./namespace";
import { OperatorWorkload } from "./operator";
import { OperatorRbac } from "./rbac";

/** `install`: this install applies the CRD; `existing`: another install (or an admin) already did. */
export type CrdMode = "install" | "existing";
export type ImagePullPolicy = NonNullable<OperatorWorkloadOptions["imagePullPolicy"]>;
export type LogLevel = NonNullable<OperatorWorkloadOptions["logLevel"]>;
export type Toleration = NonNullable<PodSpec["tolerations"]>[number];

/** Requests and limits of the operator's container, as Kubernetes quantities (`100m`, `128Mi`). */
export interface OperatorResources {
  requests?: { cpu?: string; memory?: string };
  limits?: { cpu?: string; memory?: string };
}

/** How to install the operator. Every field may be left out; the defaults are the dev stack's. */
export interface RayOperatorArgs {
  /**
   * The namespace of the operator, its RBAC and its leader-election Lease; with `watch: "namespace"`
   * also the only namespace whose RayClusters it runs. Default `ray`. Two installs in one cluster need
   * two namespaces.
   */
  namespace?: pulumi.Input<string>;
  /**
   * `true` (default): create the namespace, labelled with its Pod Security level, and delete it on
   * destroy (with every RayCluster in it). `false`: use a namespace someone else created and deletes.
   */
  createNamespace?: boolean;
  /** The Pod Security level enforced on a namespace this creates (`restricted` is always warned). */
  podSecurity?: pulumi.Input<PodSecurityLevel>;
  /**
   * `install` (default): apply the cluster-wide RayCluster CRD. It is never deleted, not even by
   * `pulumi destroy`: deleting it would delete every RayCluster in every namespace. `existing`: leave
   * the CRD alone, for a second install beside a first one, or where an admin applies CRDs.
   */
  crd?: CrdMode;
  /**
   * `namespace` (default): a Role; the operator runs its own namespace's RayClusters. `cluster`: a
   * ClusterRole; it runs those of every namespace labelled `cluster.ray.io/operator=<its namespace>`.
   */
  watch?: WatchMode;
  /** The operator's image; default `ray-operator:0.1.0`, built by `npm start` for the local cluster. */
  image?: pulumi.Input<string>;
  imagePullPolicy?: pulumi.Input<ImagePullPolicy>;
  /** Pods of the Deployment (1 to 10); one leads through a Lease, the others stand by. Default 1. */
  replicas?: pulumi.Input<number>;
  logLevel?: pulumi.Input<LogLevel>;
  /** Concurrent reconciles (1 to 64), so one big cluster does not hold up the others. Default 4. */
  workers?: pulumi.Input<number>;
  /** The autoscaler's period per cluster, in seconds (1 to 300). Default 5. */
  autoscalerIntervalSeconds?: pulumi.Input<number>;
  /** Per cluster, workers waiting for the scheduler before more are created; 0: no limit. Default 16. */
  maxUnscheduledWorkers?: pulumi.Input<number>;
  /** Default: requests 100m CPU and 128Mi, a 512Mi memory limit. */
  resources?: pulumi.Input<OperatorResources>;
  /** Where the operator's pods may run, e.g. a node pool for system workloads. */
  nodeSelector?: pulumi.Input<Record<string, string>>;
  tolerations?: pulumi.Input<Toleration[]>;
}

/** Args that decide which resources exist: they must be known when the program runs, not Outputs. */
const STRUCTURAL = ["createNamespace", "crd", "watch"] as const;

/** The schema args are checked with: the stack config's own for the operator's settings, plus the rest. */
const ARGS_SCHEMA: SchemaObject = {
  type: "object",
  additionalProperties: false,
  properties: {
    namespace: NAMESPACE_SCHEMA.properties.name,
    createNamespace: NAMESPACE_SCHEMA.properties.create,
    podSecurity: NAMESPACE_SCHEMA.properties.podSecurity,
    crd: { enum: ["install", "existing"] },
    ...OPERATOR_SCHEMA.properties,
    nodeSelector: { type: "object", additionalProperties: { type: "string" } },
    tolerations: { type: "array", items: { type: "object" } },
  },
};

/** The structural args given as Outputs or Promises, which cannot be: each a problem naming it. */
function structuralProblems(args: RayOperatorArgs): string[] {
  return STRUCTURAL.filter((key) => args[key] !== undefined && !isKnown(args[key])).map(
    (key) => `args.${key}: must be a plain value, not an Output: it decides which resources exist`,
  );
}

/** Every problem of `args` (those known so far: no Output in them), each starting with `args.<field>`. */
export function rayOperatorArgsProblems(args: object): string[] {
  const problems = schemaProblems(ARGS_SCHEMA, asJson(args), "args");
  const values = args as Record<string, unknown>;
  // Checked only once the resources are well-formed: comparing quantities needs quantities.
  if (problems.length === 0 && values.resources !== undefined) {
    const resources = operatorSettings({ resources: values.resources as OperatorResources }).resources;
    problems.push(...requestsAboveLimits(resources, "args", "args"));
  }
  return problems;
}

/** What the children are built from: args checked, with their defaults. */
interface Resolved {
  namespace: string;
  podSecurity: PodSecurityLevel;
  workload: OperatorWorkloadOptions;
}

function resolve(args: pulumi.Unwrap<RayOperatorArgs>): Resolved {
  const namespace = args.namespace ?? NAMESPACE_DEFAULTS.name;
  const settings: OperatorSettings = operatorSettings(args);
  return {
    namespace,
    podSecurity: args.podSecurity ?? NAMESPACE_DEFAULTS.podSecurity,
    workload: {
      ...settings,
      namespace,
      ...(args.nodeSelector ? { nodeSelector: args.nodeSelector } : {}),
      ...(args.tolerations ? { tolerations: args.tolerations } : {}),
    },
  };
}

/**
 * The Ray operator, installed: the RayCluster CRD (or an existing one), its namespace (or an existing
 * one), least-privilege RBAC and the operator's Deployment. Children are named after the component,
 * so one program can hold several installs (in different namespaces, at most one with `crd: "install"`).
 *
 * ```ts
 * const operator = new RayOperator("ray", { namespace: "ray" });
 * new RayCluster("example-cluster", { operator, spec });
 * ```
 *
 * Args given plainly are checked before anything is registered; a mistake fails `pulumi preview` with
 * the field named (`args.replicas: must be integer, got "two"`). Args given as Outputs are checked once
 * known.
 */
export class RayOperator extends pulumi.ComponentResource {
  /** The namespace of the operator (and of its RayClusters with `watch: "namespace"`). */
  readonly namespace: pulumi.Output<string>;
  readonly crdName: pulumi.Output<string>;
  readonly serviceAccountName: pulumi.Output<string>;
  readonly deploymentName: pulumi.Output<string>;
  readonly watch: WatchMode;
  /** The operator's settings as checked, defaults filled in: what its Deployment is built from. */
  readonly settings: pulumi.Output<OperatorWorkloadOptions>;
  /** Undefined with `crd: "existing"`. */
  readonly crd?: RayClusterCrd;
  readonly namespaceResource: RayNamespace;
  readonly rbac: OperatorRbac;
  readonly workload: OperatorWorkload;
  /**
   * What a RayCluster must wait for: the CRD and the namespace. Not the Deployment: clusters apply
   * while the operator starts, and it picks them up when it does.
   */
  readonly clusterPrerequisites: pulumi.Resource[];

  constructor(name: string, args: RayOperatorArgs = {}, opts?: pulumi.ComponentResourceOptions) {
    const component = `RayOperator "${name}"`;
    throwIfInvalid(component, [...structuralProblems(args), ...rayOperatorArgsProblems(knownArgs(args))]);
    super("ray-operator:index:RayOperator", name, {}, opts);

    this.watch = args.watch ?? "namespace";
    const resolved = checkedArgs(this, component, args, rayOperatorArgsProblems, resolve);
    this.crd = (args.crd ?? "install") === "install" ? new RayClusterCrd(name, {}, { parent: this }) : undefined;
    this.namespaceResource = new RayNamespace(
      name,
      { name: resolved.namespace, create: args.createNamespace ?? true, podSecurity: resolved.podSecurity },
      { parent: this },
    );
    const namespace = this.namespaceResource;
    this.rbac = new OperatorRbac(
      name,
      { namespace: resolved.namespace, watch: this.watch },
      { parent: this, dependsOn: [namespace] },
    );
    const crd = this.crd ? [this.crd] : [];
    this.workload = new OperatorWorkload(name, resolved.workload, {
      parent: this,
      dependsOn: [namespace, this.rbac, ...crd],
    });

    this.settings = resolved.workload;
    this.namespace = namespace.name;
    this.crdName = this.crd ? this.crd.name : pulumi.output(CRD_NAME);
    this.serviceAccountName = this.rbac.serviceAccountName;
    this.deploymentName = this.workload.name;
    this.clusterPrerequisites = [...crd, namespace];
    this.registerOutputs({
      namespace: this.namespace,
      crdName: this.crdName,
      serviceAccountName: this.serviceAccountName,
      deploymentName: this.deploymentName,
    });
  }
}
