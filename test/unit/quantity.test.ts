// The quantity parser against Kubernetes' own expectations (cases of TestQuantityParse in
// k8s.io/apimachinery/pkg/api/resource/quantity_test.go, v0.34), its corner cases, and its pattern.
// test/integration/admission.test.ts checks it against the API server itself.
import { strict as assert } from "assert";
import fc from "fast-check";
import {
  compareQuantities,
  isAdmissibleQuantity,
  isQuantity,
  parseQuantity,
  parseQuantityExact,
  Quantity,
  QUANTITY_ERRORS,
  quantityFromJson,
  quantityPattern,
  quantitySign,
  QuantityError,
  roundUpToMilli,
} from "../../api/v1/quantity";
import { parseQuantity as buildersParseQuantity } from "../../builders/quantity";

/** `digits × 10^exponent`, exactly, as Go's decQuantity(value, scale) writes an expectation. */
const dec = (digits: bigint, exponent: number): Quantity => ({
  unscaled: digits,
  scale: -exponent,
  format: "DecimalSI",
});
const MAX_INT64 = (1n << 63n) - 1n;

const equal = (input: string, expected: Quantity) =>
  assert.equal(
    compareQuantities(parseQuantityExact(input), expected),
    0,
    `${input}: got ${JSON.stringify(parseQuantityExact(input), (_, v) => (typeof v === "bigint" ? String(v) : v))}`,
  );

describe("quantities (Kubernetes' resource.ParseQuantity)", () => {
  // From TestQuantityParse: input → decQuantity(value, scale).
  const KUBERNETES_CASES: Array<[string, bigint, number]> = [
    ["0", 0n, 0],
    ["0n", 0n, 0],
    ["0Ki", 0n, 0],
    ["1", 1n, 0],
    ["1Ki", 1024n, 0],
    ["7Mi", 7n * 2n ** 20n, 0],
    ["3Ei", 3n * 2n ** 60n, 0],
    ["5n", 5n, -9],
    ["4u", 4n, -6],
    ["3m", 3n, -3],
    ["50k", 5n, 4],
    ["40T", 4n, 13],
    ["1E", 1n, 18],
    ["1E-3", 1n, -3],
    ["1e3", 1n, 3],
    ["1E18", 1n, 18],
    ["100.035k", 100035n, 0],
    ["0.0005k", 5n, -1],
    ["0.00500", 5n, -3],
    ["0.5e-2", 5n, -3],
    ["10.035M", 10035n, 3],
    ["1.3E+6", 13n, 5],
    ["1.7E18", 17n, 17],
    ["6.987654321G", 6987654321n, 0],
    ["1.01E", 101n, 16],
    // Things that saturate or round (up, to the nanounit).
    ["3.001n", 4n, -9],
    ["1.1E-9", 2n, -9],
    ["0.0000000001", 1n, -9],
    ["0.00000012354", 124n, -9],
    ["9Ei", MAX_INT64, 0],
    ["9223372036854775807Ki", MAX_INT64, 0],
    ["12E", 12n, 18],
    ["100.035Ki", 10243584n, -2],
    ["0.05Gi", 536870912n, -1],
    // Things written by trolls.
    ["0.000000000001Ki", 2n, -9],
    [".001", 1n, -3],
    [".0001k", 100n, -3],
    ["1.", 1n, 0],
    ["1.G", 1n, 9],
  ];

  for (const [input, digits, exponent] of KUBERNETES_CASES) {
    it(`reads ${input} as Kubernetes does, and -${input} and +${input} too`, () => {
      equal(input, dec(digits, exponent));
      equal(`-${input}`, dec(-digits, exponent));
      equal(`+${input}`, dec(digits, exponent));
    });
  }

  it("accepts what the issue found accepted, with the value Kubernetes gives it", () => {
    // "1e999" for memory: a valid quantity (no cap on decimal ones); the pod can never be scheduled.
    equal("1e999", dec(1n, 999));
    assert.equal(parseQuantity("1e999"), Infinity);
    // 10^18 CPU is exactly 1E (the API server writes it so).
    equal("1000000000000000000", dec(1n, 18));
    equal("1E", dec(1n, 18));
  });

  it("follows Go's own corners: empty numbers, 32-bit exponents, the int64 fast path", () => {
    for (const zero of ["m", "Ki", "Ti", ".", "+", "-", "+.", "e-9", "e5"]) equal(zero, dec(0n, 0));
    equal("1e4294967297", dec(10n, 0)); // Go truncates the exponent to 32 bits
    for (const numeric of ["Pi", "Ei", "e-10", ".e-20"]) {
      assert.throws(
        () => parseQuantityExact(numeric),
        (e: unknown) => e instanceof QuantityError && e.message === QUANTITY_ERRORS.numeric,
        numeric,
      );
    }
  });

  const REFUSED: Array<[string, keyof typeof QUANTITY_ERRORS]> = [
    ["", "format"],
    ["512 Mi", "format"],
    [" 1", "format"],
    ["1.5.5", "format"],
    ["1KiB", "format"],
    ["1e1.5", "format"],
    ["1e5m", "format"],
    ["0x10", "format"],
    ["one", "format"],
    ["1ki", "suffix"],
    ["1e", "suffix"],
    ["1GB", "format"],
    ["1gi", "format"],
    ["e", "suffix"],
    ["1e+", "suffix"],
    ["1e99999999999999999999", "suffix"],
    ["1Ee5", "suffix"],
  ];
  for (const [input, reason] of REFUSED) {
    it(`refuses ${JSON.stringify(input)} with the API server's message (${reason})`, () => {
      assert.throws(
        () => parseQuantityExact(input),
        (e: unknown) => e instanceof QuantityError && e.message === QUANTITY_ERRORS[reason],
      );
      assert.equal(isQuantity(input), false);
    });
  }

  it("reads JSON numbers from their JSON text, as Go's Quantity.UnmarshalJSON does", () => {
    equal(String(0.5), dec(5n, -1));
    assert.equal(compareQuantities(quantityFromJson(0.5), dec(5n, -1)), 0);
    assert.equal(compareQuantities(quantityFromJson(1e21), dec(1n, 21)), 0); // "1e+21"
    assert.equal(compareQuantities(quantityFromJson(1e-7), dec(1n, -7)), 0); // "1e-7"
    assert.equal(parseQuantity(3), 3);
  });

  it("rounds as a Pod stores requests and limits: up to 1m, away from zero", () => {
    const milli = (text: string) => roundUpToMilli(parseQuantityExact(text));
    assert.equal(compareQuantities(milli("5u"), dec(1n, -3)), 0);
    assert.equal(compareQuantities(milli("1500u"), dec(2n, -3)), 0);
    assert.equal(compareQuantities(milli("-1500u"), dec(-2n, -3)), 0);
    assert.equal(compareQuantities(milli("2Gi"), parseQuantityExact("2Gi")), 0);
  });

  it("orders quantities exactly, whatever their notation", () => {
    const cmp = (a: string, b: string) => compareQuantities(parseQuantityExact(a), parseQuantityExact(b));
    assert.equal(cmp("1Gi", "1G"), 1);
    assert.equal(cmp("1000m", "1"), 0);
    assert.equal(cmp("-1", "0"), -1);
    assert.equal(cmp("1e999", "1e998"), 1);
    assert.equal(cmp("-1e999", "-1e998"), -1);
    assert.equal(cmp("0.5", "500m"), 0);
    assert.equal(cmp("2", "1e-999"), 1);
  });

  it("is what builders/ reads pod resources with", () => {
    assert.equal(buildersParseQuantity("500m"), 0.5);
    assert.equal(buildersParseQuantity("512Mi"), 512 * 2 ** 20);
    assert.throws(() => buildersParseQuantity("1e1.5"), /quantities must match the regular expression/);
  });

  describe("what the CRD admits: its pattern, and exponents of at most six digits", () => {
    // Strings built from what quantities are made of, so that many are valid and many nearly so.
    const quantityish = fc
      .array(
        fc.constantFrom(
          ..."0123456789.+-eEinumkKMGTP ".split(""),
          "Ki",
          "Pi",
          "Ei",
          "e-",
          "00",
          "1234567",
          "2147483648",
        ),
        {
          maxLength: 10,
        },
      )
      .map((parts) => parts.join(""));
    const anyQuantity = new RegExp(quantityPattern());
    const nonNegative = new RegExp(quantityPattern({ nonNegative: true }));

    it("matches exactly the admissible quantities, and the non-negative ones (2,000 generated strings, seeded)", () => {
      let valid = 0;
      fc.assert(
        fc.property(quantityish, (s) => {
          const admissible = isAdmissibleQuantity(s);
          if (admissible) valid++;
          assert.equal(anyQuantity.test(s), admissible, s);
          assert.equal(nonNegative.test(s), admissible && quantitySign(parseQuantityExact(s)) >= 0, s);
        }),
        { seed: 1616, numRuns: 2000 },
      );
      assert.ok(valid > 200, `only ${valid} admissible quantities were generated`);
    });

    it("refuses the exponents that would cost the API server seconds, which Kubernetes would parse", () => {
      for (const slow of ["1e-9999999", "1e2147483648", "1E+0001234567"]) {
        assert.equal(isQuantity(slow), true, slow);
        assert.equal(isAdmissibleQuantity(slow), false, slow);
        assert.equal(anyQuantity.test(slow), false, slow);
      }
      assert.equal(isAdmissibleQuantity("1e-999999"), true);
      assert.equal(nonNegative.test("-0.000"), true);
      assert.equal(nonNegative.test("-0.001"), false);
    });
  });
});
