// Root hooks for every mocha run: stop the test control plane, if one was started, when all is done.
import { stopTestCluster } from "./cluster";

export const mochaGlobalTeardown = async () => stopTestCluster();
