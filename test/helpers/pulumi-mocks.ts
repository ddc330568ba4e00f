// Runs the Pulumi program under Pulumi's own mocks and records every resource it registers, with
// its inputs, parent and dependencies (the stock mocks drop the last two; the monitor keeps them).
import * as pulumi from "@pulumi/pulumi";
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import { setMockOptions } from "@pulumi/pulumi/runtime/settings";

export interface Registered {
  type: string;
  name: string;
  urn: string;
  inputs: any;
  parent: string;
  dependencies: string[];
}

class RecordingMonitor extends MockMonitor {
  readonly registered: Registered[] = [];
  async registerResource(req: any, callback: (err: any, res: any) => void) {
    await super.registerResource(req, (err: any, res: any) => {
      if (!err) {
        this.registered.push({
          type: req.getType(),
          name: req.getName(),
          urn: res.getUrn(),
          inputs: pulumi.runtime.deserializeProperties(req.getObject()),
          parent: req.getParent(),
          dependencies: req.getDependenciesList(),
        });
      }
      callback(err, res);
    });
  }
}

const mocks: pulumi.runtime.Mocks = {
  newResource: (args) => ({ id: `${args.name}-id`, state: { ...args.inputs } }),
  call: (args) => args.inputs,
};

/** Loads `programPath` fresh with `config` and returns what it registered once everything settled. */
export async function runProgram(programPath: string, config: Record<string, string>): Promise<{ resources: Registered[]; exports: any }> {
  const monitor = new RecordingMonitor(mocks);
  setMockOptions(monitor, "ray-operator", "dev", false);
  pulumi.runtime.setAllConfig(config);
  delete require.cache[require.resolve(programPath)];
  const exports = require(programPath);
  // Let every apply and registration finish.
  for (let i = 0, n = -1; i < 50 && n !== monitor.registered.length; i++) {
    n = monitor.registered.length;
    await new Promise((r) => setTimeout(r, 20));
  }
  return { resources: monitor.registered, exports };
}
