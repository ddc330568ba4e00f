// `npm run pulumi` and `npm start` warn when the stack's secrets would be encrypted with an empty
// passphrase (issue #13, security): anyone who can read the state directory could read them.
import { strict as assert } from "assert";
import { readFileSync } from "fs";
import { join } from "path";
import { emptyPassphraseWarning } from "../../scripts/pulumi-cli";
import { ROOT } from "../helpers/examples";

describe("the empty-passphrase warning", () => {
  it("warns when the passphrase is unset or empty, saying what is at stake and what to set", () => {
    for (const passphrase of [undefined, ""]) {
      const warning = emptyPassphraseWarning(passphrase);
      const at = /^warning: PULUMI_CONFIG_PASSPHRASE is empty: the stack's secrets .* are not protected/;
      assert.match(warning ?? "", at);
      assert.match(warning ?? "", /Set PULUMI_CONFIG_PASSPHRASE/);
    }
  });

  it("is silent with a passphrase", () => {
    assert.equal(emptyPassphraseWarning("s3cret"), undefined);
  });

  it("is printed by both scripts that run Pulumi with the project's state", () => {
    // Both run the CLI (built on first use), so the test reads that they call it rather than running them.
    for (const script of ["scripts/pulumi-run.ts", "scripts/demo.ts"])
      assert.match(readFileSync(join(ROOT, script), "utf8"), /emptyPassphraseWarning\(\)/, script);
  });
});
