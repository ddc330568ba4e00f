// Checking a component's args before anything is built from them. A value given plainly is checked in
// the constructor, so `pulumi preview` fails before the component registers a single child; a value
// given as an Output is checked once it is known (at preview when it already is), failing the
// component's children, which are built from the checked values only.
import * as pulumi from "@pulumi/pulumi";

/** True when `value` is there now: neither an Output nor a Promise. */
export function isKnown(value: unknown): boolean {
  return !pulumi.Output.isInstance(value) && !(value instanceof Promise);
}

/**
 * The entries of `args` whose values are known now, undefined ones left out. The args' types allow an
 * Output only at the top level, so a known entry holds no Output inside.
 */
export function knownArgs<T extends object>(args: T): Partial<pulumi.Unwrap<T>> {
  return Object.fromEntries(
    Object.entries(args).filter(([, value]) => value !== undefined && isKnown(value)),
  ) as Partial<pulumi.Unwrap<T>>;
}

/** The error a component's bad args end in: every problem, one per line, each naming its field. */
export function argsMessage(component: string, problems: string[]): string {
  return `invalid args of ${component}:\n${problems.map((p) => `  - ${p}`).join("\n")}`;
}

/**
 * Throws, before the component is registered, when the args known now have problems. A RunError is
 * printed by Pulumi as its message alone, without a stack trace that says nothing to the user.
 */
export function throwIfInvalid(component: string, problems: string[]): void {
  if (problems.length) throw new pulumi.RunError(argsMessage(component, problems));
}

/**
 * `args` once every Output in it is known, checked again as a whole: the values that arrived as
 * Outputs are checked here for the first time. The error is the component's own, shown without a stack.
 */
export function checkedArgs<T extends object, R>(
  owner: pulumi.Resource,
  component: string,
  args: T,
  problemsOf: (known: pulumi.Unwrap<T>) => string[],
  resolve: (known: pulumi.Unwrap<T>) => R,
): pulumi.Output<R> {
  return pulumi.output(args).apply((known) => {
    const problems = problemsOf(known);
    if (problems.length) throw new pulumi.ResourceError(argsMessage(component, problems), owner, true);
    return resolve(known);
  });
}

/** Plain data as a request body carries it: what JSON cannot hold (undefined members) left out. */
export function asJson(value: unknown): unknown {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}
