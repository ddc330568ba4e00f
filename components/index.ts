// The component library: `import { RayOperator, RayCluster } from "<this project>/components"`.
export { RayOperator, rayOperatorArgsProblems } from "./ray-operator";
export type {
  CrdMode,
  ImagePullPolicy,
  LogLevel,
  OperatorResources,
  RayOperatorArgs,
  Toleration,
} from "./ray-operator";
export { RayCluster, rayClusterArgsProblems } from "./raycluster";
export type { RayClusterArgs } from "./raycluster";
// The parts RayOperator is made of, for a program that wants only some of them.
export { RayClusterCrd } from "./crd";
export type { RayClusterCrdArgs } from "./crd";
export { RayNamespace } from "./namespace";
export type { RayNamespaceArgs } from "./namespace";
export { OperatorRbac } from "./rbac";
export type { OperatorRbacArgs } from "./rbac";
export { OperatorWorkload } from "./operator";
export type { OperatorWorkloadArgs } from "./operator";
export { perConcernAliases } from "./legacy-aliases";
// The types args are made of.
export type { RayClusterSpec } from "../api/v1/types";
export type { PodSecurityLevel } from "../builders/namespace";
export type { WatchMode } from "../builders/rbac";
