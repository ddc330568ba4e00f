// Kubernetes resource quantities ("500m", "512Mi", "1.5", "2e3"), parsed exactly as the API server
// parses them: a port of k8s.io/apimachinery/pkg/api/resource.ParseQuantity (v0.34), so that what the
// operator, `pulumi preview` and the CRD's CEL `isQuantity()` accept is what a Pod accepts, down to
// the corner cases that parser has ("m" is zero, "1e4294967297" is 10, "Pi" is refused while "Ti" is
// zero). Values are exact (a big integer and a decimal scale), never floating point, like Go's.
//
// It lives in the API layer because the CRD's rules call it (validate.ts evaluates `isQuantity` and
// `quantity()`), and builders/ reads pod resources through it.

/** The three notations a quantity keeps (Go: resource.Format). */
export type QuantityFormat = "DecimalExponent" | "BinarySI" | "DecimalSI";

/** An exact quantity: `unscaled × 10^-scale` (unscaled may be negative). */
export interface Quantity {
  readonly unscaled: bigint;
  readonly scale: number;
  readonly format: QuantityFormat;
}

// The API server's own error texts (resource.ErrFormatWrong, ErrNumeric, ErrSuffix), so that a
// message from `pulumi preview` reads like the one `kubectl apply` would print.
export const QUANTITY_ERRORS = {
  format: "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
  numeric: "unable to parse numeric part of quantity",
  suffix: "unable to parse quantity's suffix",
} as const;

export class QuantityError extends Error {
  constructor(readonly reason: keyof typeof QUANTITY_ERRORS) {
    super(QUANTITY_ERRORS[reason]);
    this.name = "QuantityError";
  }
}

/** Go's resource.Nano: values are rounded up to 10^-9. */
const NANO_SCALE = 9;
/** BinarySI values are capped at the largest int64. */
const MAX_INT64 = (1n << 63n) - 1n;
/** Go's maxInt64Factors: at most this many digits take the int64 fast path. */
const MAX_INT64_FACTORS = 18;

const DECIMAL_SUFFIXES: Record<string, number> = { "": 0, n: -9, u: -6, m: -3, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const BINARY_SUFFIXES: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const SUFFIX_CHARS = "eEinumkKMGTP";
const isDigit = (c: string | undefined) => c !== undefined && c >= "0" && c <= "9";

interface Scanned {
  negative: boolean;
  /** The numeric part as written, sign included: what Go hands to inf.Dec.SetString. */
  value: string;
  /** Integer digits without leading zeros ("0" when none), and fraction digits. */
  num: string;
  denom: string;
  suffix: string;
}

/** Go's parseQuantityString: splits sign, number and suffix, or fails with ErrFormatWrong. */
function scan(str: string): Scanned {
  let pos = 0;
  const end = str.length;
  let negative = false;
  if (str[0] === "-" || str[0] === "+") {
    negative = str[0] === "-";
    pos++;
  }
  while (pos < end && str[pos] === "0") pos++;
  if (pos >= end) return { negative, value: "0", num: "0", denom: "", suffix: "" };
  let i = pos;
  while (i < end && isDigit(str[i])) i++;
  let num = str.slice(pos, i);
  if (i >= end) return { negative, value: str, num, denom: "", suffix: "" };
  pos = i;
  if (num === "") num = "0";
  let denom = "";
  if (str[pos] === ".") {
    pos++;
    i = pos;
    while (i < end && isDigit(str[i])) i++;
    denom = str.slice(pos, i);
    if (i >= end) return { negative, value: str, num, denom, suffix: "" };
    pos = i;
  }
  const value = str.slice(0, pos);
  const suffixStart = pos;
  while (pos < end && SUFFIX_CHARS.includes(str[pos])) pos++;
  if (pos < end && (str[pos] === "-" || str[pos] === "+")) pos++;
  while (pos < end && isDigit(str[pos])) pos++;
  if (pos < end) throw new QuantityError("format");
  return { negative, value, num, denom, suffix: str.slice(suffixStart) };
}

/** Go's strconv.ParseInt(s, 10, 64), or undefined where it fails. */
function parseInt64(s: string): bigint | undefined {
  if (!/^[+-]?[0-9]+$/.test(s)) return undefined;
  const n = BigInt(s);
  return n > MAX_INT64 || n < -MAX_INT64 - 1n ? undefined : n;
}

/** Go's suffixHandler.interpret; an exponent is truncated to int32 as Go's `int32(parsed)` does. */
function interpret(suffix: string): { base: 2 | 10; exponent: number; format: QuantityFormat } {
  if (suffix in DECIMAL_SUFFIXES) return { base: 10, exponent: DECIMAL_SUFFIXES[suffix], format: "DecimalSI" };
  if (suffix in BINARY_SUFFIXES) return { base: 2, exponent: BINARY_SUFFIXES[suffix], format: "BinarySI" };
  if (suffix.length > 1 && (suffix[0] === "e" || suffix[0] === "E")) {
    const parsed = parseInt64(suffix.slice(1));
    if (parsed !== undefined)
      return { base: 10, exponent: Number(BigInt.asIntN(32, parsed)), format: "DecimalExponent" };
  }
  throw new QuantityError("suffix");
}

/**
 * Whether Go takes its int64 fast path; only then may the numeric part have no digit at all ("m",
 * "+Ki", ".": zero), since the slow path hands it to inf.Dec, which wants one.
 */
function takesFastPath(scanned: Scanned, base: 2 | 10, exponent: number): boolean {
  const digits = scanned.num.length + scanned.denom.length;
  if (base === 10) return MAX_INT64_FACTORS - digits >= 0 && exponent - scanned.denom.length >= -NANO_SCALE;
  if (exponent < 0 || scanned.denom.length > 0) return false;
  // Go computes this precision with a float32 product; for the suffixes' exponents it is exact.
  const precision = 15 - scanned.num.length - Math.trunc((exponent * 3) / 10) - 1;
  if (precision < 0) return false;
  return BigInt(scanned.num) << BigInt(exponent) <= MAX_INT64;
}

const decimalDigits = (n: bigint) => (n < 0n ? -n : n).toString().length;

/** Rounds a non-negative exact value up to a multiple of 10^-target (inf.RoundUp). */
function roundUpToScale(unscaled: bigint, scale: number, target: number): { unscaled: bigint; scale: number } {
  if (scale <= target || unscaled === 0n) return { unscaled, scale };
  const drop = scale - target;
  // More digits dropped than there are: the value is below 10^-target and becomes exactly that.
  if (drop > decimalDigits(unscaled)) return { unscaled: 1n, scale: target };
  const divisor = 10n ** BigInt(drop);
  const quotient = unscaled / divisor;
  return { unscaled: unscaled % divisor === 0n ? quotient : quotient + 1n, scale: target };
}

/** Parses a quantity as the API server does (resource.ParseQuantity); throws a QuantityError. */
export function parseQuantityExact(str: string): Quantity {
  if (str.length === 0) throw new QuantityError("format");
  if (str === "0") return { unscaled: 0n, scale: 0, format: "DecimalSI" };
  const scanned = scan(str);
  const { base, exponent, format } = interpret(scanned.suffix);
  const hasDigit = /[0-9]/.test(scanned.value);
  if (!hasDigit && !takesFastPath(scanned, base, exponent)) throw new QuantityError("numeric");

  const digits = BigInt(`${scanned.num}${scanned.denom}`);
  let unscaled: bigint;
  let scale: number;
  if (base === 10) {
    unscaled = digits;
    scale = scanned.denom.length - exponent;
  } else {
    unscaled = digits << BigInt(exponent);
    scale = scanned.denom.length;
  }
  ({ unscaled, scale } = roundUpToScale(unscaled, scale, NANO_SCALE));
  if (format === "BinarySI" && compareMagnitude(unscaled, scale, MAX_INT64, 0) > 0) {
    unscaled = MAX_INT64;
    scale = 0;
  }
  return { unscaled: scanned.negative ? -unscaled : unscaled, scale, format };
}

/** Whether `str` is a quantity the API server accepts (CEL's `isQuantity`). */
export function isQuantity(str: string): boolean {
  try {
    parseQuantityExact(str);
    return true;
  } catch (e) {
    if (e instanceof QuantityError) return false;
    throw e;
  }
}

/** Go's unicode.IsSpace, which strings.TrimSpace trims (ECMAScript's trim() differs: U+0085, U+FEFF). */
const GO_SPACE = "[\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";
const goTrimSpace = new RegExp(`^${GO_SPACE}+|${GO_SPACE}+$`, "gu");

/**
 * A quantity as the API server reads one from a Pod's JSON (Quantity.UnmarshalJSON): a string with
 * surrounding spaces trimmed, or a JSON number, parsed from its text (`0.5` is "0.5", `1e21` is
 * "1e+21"). The CRD is stricter about spaces: its `isQuantity()` is ParseQuantity itself.
 */
export function quantityFromJson(value: string | number): Quantity {
  return parseQuantityExact(typeof value === "number" ? JSON.stringify(value) : value.replace(goTrimSpace, ""));
}

/** Compares |a| with |b| without materialising huge powers of ten. */
function compareMagnitude(a: bigint, aScale: number, b: bigint, bScale: number): number {
  const absA = a < 0n ? -a : a;
  const absB = b < 0n ? -b : b;
  if (absA === 0n || absB === 0n) return absA === absB ? 0 : absA === 0n ? -1 : 1;
  // The position of the leading digit decides unless it is the same for both.
  const leadA = decimalDigits(absA) - aScale;
  const leadB = decimalDigits(absB) - bScale;
  if (leadA !== leadB) return leadA < leadB ? -1 : 1;
  // Same leading position: the scales differ by at most the digits' lengths, so aligning is cheap.
  const scaleToUse = Math.max(aScale, bScale);
  const alignedA = absA * 10n ** BigInt(scaleToUse - aScale);
  const alignedB = absB * 10n ** BigInt(scaleToUse - bScale);
  return alignedA === alignedB ? 0 : alignedA < alignedB ? -1 : 1;
}

/** -1, 0 or 1 as a is less than, equal to or greater than b (CEL's `compareTo`). */
export function compareQuantities(a: Quantity, b: Quantity): -1 | 0 | 1 {
  const signA = quantitySign(a);
  const signB = quantitySign(b);
  if (signA !== signB) return signA < signB ? -1 : 1;
  const byMagnitude = compareMagnitude(a.unscaled, a.scale, b.unscaled, b.scale);
  const ordered = signA < 0 ? -byMagnitude : byMagnitude;
  return ordered < 0 ? -1 : ordered > 0 ? 1 : 0;
}

export const quantitySign = (q: Quantity): -1 | 0 | 1 => (q.unscaled < 0n ? -1 : q.unscaled > 0n ? 1 : 0);

/**
 * A Pod's requests and limits as the API server stores them: rounded up (away from zero) to a multiple
 * of 1m (SetDefaults_ResourceList in k8s.io/kubernetes/pkg/apis/core/v1), so "5u" becomes "1m".
 */
export function roundUpToMilli(q: Quantity): Quantity {
  const negative = q.unscaled < 0n;
  const rounded = roundUpToScale(negative ? -q.unscaled : q.unscaled, q.scale, 3);
  return { unscaled: negative ? -rounded.unscaled : rounded.unscaled, scale: rounded.scale, format: q.format };
}

/** Whether the value is a whole number (CEL's `isInteger` asks whether it fits an int64 too). */
export function isWholeQuantity(q: Quantity): boolean {
  if (q.scale <= 0 || q.unscaled === 0n) return true;
  return q.unscaled % 10n ** BigInt(q.scale) === 0n;
}

/** The nearest double (Infinity beyond the double range, as a float conversion does). */
export function quantityToNumber(q: Quantity): number {
  return Number.parseFloat(`${q.unscaled}e${-q.scale}`);
}

/**
 * An exponent of seven digits or more ("1e-9999999"): valid to Kubernetes, but its parser rounds such
 * a value by computing 10^exponent, which takes the API server seconds (8 s for e-9999999, minutes
 * beyond) of CPU per value, and 32-bit wrapping turns a large positive one negative. The CRD refuses
 * them before anything parses them. A regular expression source, for RE2 and ECMAScript alike.
 */
export const HUGE_EXPONENT = "[eE][+-]?0*[1-9][0-9]{6}";
const hugeExponent = new RegExp(HUGE_EXPONENT);

/** A quantity the CRD admits: one Kubernetes parses, with an exponent of at most six digits. */
export const isAdmissibleQuantity = (text: string): boolean => !hugeExponent.test(text) && isQuantity(text);

/**
 * An OpenAPI `pattern` (RE2 and ECMAScript alike) for exactly the strings isAdmissibleQuantity
 * accepts; with `nonNegative`, only those whose value is not below zero ("-0" is zero), as Pod
 * validation requires of requests, limits and overhead.
 */
export function quantityPattern(opts: { nonNegative?: boolean } = {}): string {
  const exponent = "[eE][+-]?0*[0-9]{1,6}";
  const withDigits = "([0-9]+(\\.[0-9]*)?|\\.[0-9]+)";
  const zero = "(0+(\\.0*)?|\\.0+)";
  const suffix = `([numkMGTPE]|[KMGTPE]i|${exponent})?`;
  // Without a digit Go needs its fast path: a decimal exponent of -9 or more, binary up to Ti.
  const withoutDigits = "([+-]?\\.?([numkMGTPE]|[KMGT]i|[eE](\\+?0*[0-9]{1,6}|-0*[0-9]))|[+-]\\.?|\\.)";
  const signed = opts.nonNegative ? `\\+?${withDigits}${suffix}|-${zero}${suffix}` : `[+-]?${withDigits}${suffix}`;
  return `^(${signed}|${withoutDigits})$`;
}

/** Parses a quantity to a number; throws a QuantityError, in the API server's words, when it is not one. */
export function parseQuantity(value: string | number): number {
  return quantityToNumber(quantityFromJson(value));
}
