// A small, schema-driven Protocol Buffers (proto3) wire codec: just enough to speak to Ray's GCS.
//
// Why not protobufjs or @grpc/proto-loader: we need a handful of messages from one service, we want
// the field numbers written down by us (and checked against the Ray wheel's own descriptor, see
// test/integration/ray-proto.test.ts), and a codec this size has no reflection magic to go wrong.
//
// A message schema is a list of fields `{no, name, type, repeated?}`; decoded messages are plain
// objects keyed by the proto field names (snake_case), with proto3 defaults filled in for every
// field the schema knows (0, "", false, empty Buffer, [], {} and `undefined` for sub-messages), so
// readers never have to care whether a field was present on the wire. Unknown fields are skipped,
// which is what lets an older schema read a newer Ray.
//
// Wire facts used (https://protobuf.dev/programming-guides/encoding/):
//   tag = (field_number << 3) | wire_type; wire types 0 varint, 1 fixed64, 2 length-delimited,
//   5 fixed32 (3/4 are the deprecated groups, rejected). int32/int64/uint*/bool/enum are varints
//   (negative int32/int64 take 10 bytes, two's complement); double is fixed64 little-endian;
//   string/bytes/sub-messages are length-delimited; a map<K,V> is a repeated sub-message with key = 1
//   and value = 2; repeated numeric fields are packed by default in proto3 (a decoder must accept
//   both packed and unpacked).

export type ScalarType = "string" | "bytes" | "double" | "float" | "int32" | "int64" | "uint32" | "uint64" | "bool" | "enum";

export type FieldType =
  | ScalarType
  | { message: () => MessageSchema }
  | { map: [ScalarType, ScalarType] };

export interface FieldSchema {
  no: number;
  /** The proto field name, exactly as in the .proto (snake_case). */
  name: string;
  type: FieldType;
  repeated?: boolean;
}

export interface MessageSchema {
  /** Fully qualified proto name, e.g. `ray.rpc.autoscaler.NodeState`. */
  fullName: string;
  fields: FieldSchema[];
}

export type Decoded = Record<string, unknown>;

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

export class ProtoDecodeError extends Error {}

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

/** A growable byte buffer; protobuf writers append far more often than they allocate. */
class Writer {
  private buf = Buffer.allocUnsafe(256);
  private len = 0;

  private ensure(extra: number): void {
    if (this.len + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + extra) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.len++] = b;
  }

  /** An unsigned varint of a non-negative safe integer. */
  varint(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`varint out of range: ${n}`);
    while (n >= 0x80) {
      this.byte((n % 0x80) | 0x80);
      n = Math.floor(n / 0x80);
    }
    this.byte(n);
  }

  /** A signed 64-bit integer as a varint (negative numbers take 10 bytes, two's complement). */
  int64(n: number): void {
    if (!Number.isSafeInteger(n)) throw new RangeError(`int64 out of safe range: ${n}`);
    if (n >= 0) return this.varint(n);
    let v = BigInt.asUintN(64, BigInt(n));
    while (v >= 0x80n) {
      this.byte(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.byte(Number(v));
  }

  double(x: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(x, this.len);
    this.len += 8;
  }

  float(x: number): void {
    this.ensure(4);
    this.buf.writeFloatLE(x, this.len);
    this.len += 4;
  }

  bytes(b: Uint8Array): void {
    this.varint(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  tag(no: number, wire: number): void {
    this.varint(no * 8 + wire);
  }

  finish(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.len));
  }
}

function wireTypeOf(t: ScalarType): number {
  switch (t) {
    case "double":
      return WIRE_FIXED64;
    case "float":
      return WIRE_FIXED32;
    case "string":
    case "bytes":
      return WIRE_LEN;
    default:
      return WIRE_VARINT;
  }
}

function isDefault(t: ScalarType, v: unknown): boolean {
  switch (t) {
    case "string":
      return v === "";
    case "bytes":
      return (v as Uint8Array).length === 0;
    case "bool":
      return v === false;
    default:
      return v === 0;
  }
}

/** Writes a scalar's payload (no tag). */
function writeScalar(w: Writer, t: ScalarType, v: unknown): void {
  switch (t) {
    case "string":
      return w.bytes(Buffer.from(String(v), "utf8"));
    case "bytes":
      return w.bytes(v as Uint8Array);
    case "double":
      return w.double(Number(v));
    case "float":
      return w.float(Number(v));
    case "bool":
      return w.varint(v ? 1 : 0);
    case "int32":
    case "int64":
    case "enum":
      return w.int64(Number(v));
    case "uint32":
    case "uint64":
      return w.varint(Number(v));
  }
}

function writeMessage(w: Writer, schema: MessageSchema, msg: Decoded): void {
  for (const f of schema.fields) {
    const v = msg[f.name];
    if (v === undefined || v === null) continue;
    const t = f.type;
    if (typeof t === "object" && "map" in t) {
      const [kt, vt] = t.map;
      // Sorted keys: a deterministic encoding, handy for tests and for caching by bytes.
      for (const key of Object.keys(v as object).sort()) {
        const entry = new Writer();
        entry.tag(1, wireTypeOf(kt));
        writeScalar(entry, kt, kt === "string" ? key : Number(key));
        entry.tag(2, wireTypeOf(vt));
        writeScalar(entry, vt, (v as Record<string, unknown>)[key]);
        w.tag(f.no, WIRE_LEN);
        w.bytes(entry.finish());
      }
      continue;
    }
    if (typeof t === "object") {
      const sub = t.message();
      const items = f.repeated ? (v as Decoded[]) : [v as Decoded];
      for (const item of items) {
        w.tag(f.no, WIRE_LEN);
        w.bytes(encodeMessage(sub, item));
      }
      continue;
    }
    if (f.repeated) {
      const items = v as unknown[];
      if (items.length === 0) continue;
      if (wireTypeOf(t) === WIRE_LEN) {
        for (const item of items) {
          w.tag(f.no, WIRE_LEN);
          writeScalar(w, t, item);
        }
      } else {
        // proto3 packs repeated numbers.
        const packed = new Writer();
        for (const item of items) writeScalar(packed, t, item);
        w.tag(f.no, WIRE_LEN);
        w.bytes(packed.finish());
      }
      continue;
    }
    if (isDefault(t, v)) continue; // proto3: defaults are not written
    w.tag(f.no, wireTypeOf(t));
    writeScalar(w, t, v);
  }
}

/** Encodes `msg` (keys = proto field names; missing keys are defaults) as `schema`. */
export function encodeMessage(schema: MessageSchema, msg: Decoded): Buffer {
  const w = new Writer();
  writeMessage(w, schema, msg);
  return w.finish();
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

class Reader {
  pos: number;
  constructor(
    readonly buf: Buffer,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  /** A varint as two 32-bit halves (JavaScript numbers cannot hold every 64-bit value). */
  private varint64(): [lo: number, hi: number] {
    let lo = 0;
    let hi = 0;
    let shift = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new ProtoDecodeError("truncated varint");
      const b = this.buf[this.pos++];
      if (shift < 28) lo |= (b & 0x7f) << shift;
      else if (shift === 28) {
        lo |= (b & 0x0f) << 28;
        hi |= (b & 0x7f) >> 4;
      } else hi |= (b & 0x7f) << (shift - 32);
      if ((b & 0x80) === 0) return [lo >>> 0, hi >>> 0];
      shift += 7;
    }
    throw new ProtoDecodeError("varint longer than 10 bytes");
  }

  /** An unsigned varint that must fit a safe integer (tags, lengths, uint64 counters). */
  uvarint(): number {
    const [lo, hi] = this.varint64();
    const n = hi * 0x100000000 + lo;
    if (!Number.isSafeInteger(n)) throw new ProtoDecodeError(`varint beyond 2^53: ${n}`);
    return n;
  }

  /** A signed int64/int32/enum varint, as a number (exact up to ±2^53). */
  svarint(): number {
    const [lo, hi] = this.varint64();
    if (hi & 0x80000000) {
      // Negative: two's complement over 64 bits.
      return -((~hi >>> 0) * 0x100000000 + (~lo >>> 0) + 1);
    }
    return hi * 0x100000000 + lo;
  }

  double(): number {
    if (this.pos + 8 > this.end) throw new ProtoDecodeError("truncated double");
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }

  float(): number {
    if (this.pos + 4 > this.end) throw new ProtoDecodeError("truncated float");
    const v = this.buf.readFloatLE(this.pos);
    this.pos += 4;
    return v;
  }

  /** The bounds of a length-delimited payload, advancing past it. */
  lenDelimited(): [start: number, end: number] {
    const n = this.uvarint();
    const start = this.pos;
    if (start + n > this.end) throw new ProtoDecodeError("truncated length-delimited field");
    this.pos += n;
    return [start, start + n];
  }

  skip(wire: number): void {
    switch (wire) {
      case WIRE_VARINT:
        this.varint64();
        return;
      case WIRE_FIXED64:
        this.pos += 8;
        break;
      case WIRE_LEN:
        this.lenDelimited();
        return;
      case WIRE_FIXED32:
        this.pos += 4;
        break;
      default:
        throw new ProtoDecodeError(`unsupported wire type ${wire}`);
    }
    if (this.pos > this.end) throw new ProtoDecodeError("truncated field");
  }
}

function defaultScalar(t: ScalarType): unknown {
  switch (t) {
    case "string":
      return "";
    case "bytes":
      return Buffer.alloc(0);
    case "bool":
      return false;
    default:
      return 0;
  }
}

function readScalar(r: Reader, t: ScalarType): unknown {
  switch (t) {
    case "string": {
      const [s, e] = r.lenDelimited();
      return r.buf.toString("utf8", s, e);
    }
    case "bytes": {
      const [s, e] = r.lenDelimited();
      return Buffer.from(r.buf.subarray(s, e));
    }
    case "double":
      return r.double();
    case "float":
      return r.float();
    case "bool":
      return r.uvarint() !== 0;
    case "int32":
    case "int64":
    case "enum":
      return r.svarint();
    case "uint32":
    case "uint64":
      return r.uvarint();
  }
}

/** Per schema, the field lookup by number, built once. */
const fieldIndex = new WeakMap<MessageSchema, Map<number, FieldSchema>>();
function fieldsByNumber(schema: MessageSchema): Map<number, FieldSchema> {
  let m = fieldIndex.get(schema);
  if (!m) {
    m = new Map(schema.fields.map((f) => [f.no, f]));
    fieldIndex.set(schema, m);
  }
  return m;
}

function emptyMessage(schema: MessageSchema): Decoded {
  const out: Decoded = {};
  for (const f of schema.fields) {
    const t = f.type;
    if (typeof t === "object" && "map" in t) out[f.name] = {};
    else if (f.repeated) out[f.name] = [];
    else if (typeof t === "object") out[f.name] = undefined;
    else out[f.name] = defaultScalar(t);
  }
  return out;
}

function readMessage(r: Reader, schema: MessageSchema): Decoded {
  const out = emptyMessage(schema);
  const byNo = fieldsByNumber(schema);
  while (r.pos < r.end) {
    const tag = r.uvarint();
    const no = Math.floor(tag / 8);
    const wire = tag % 8;
    if (no === 0) throw new ProtoDecodeError("field number 0");
    const f = byNo.get(no);
    if (!f) {
      r.skip(wire);
      continue;
    }
    const t = f.type;
    if (typeof t === "object" && "map" in t) {
      if (wire !== WIRE_LEN) throw new ProtoDecodeError(`${schema.fullName}.${f.name}: map entry with wire type ${wire}`);
      const [kt, vt] = t.map;
      const [s, e] = r.lenDelimited();
      const er = new Reader(r.buf, s, e);
      let key = defaultScalar(kt);
      let value = defaultScalar(vt);
      while (er.pos < er.end) {
        const etag = er.uvarint();
        const eno = Math.floor(etag / 8);
        if (eno === 1) key = readScalar(er, kt);
        else if (eno === 2) value = readScalar(er, vt);
        else er.skip(etag % 8);
      }
      // defineProperty: a key named "__proto__" must stay data, not change the object's prototype.
      Object.defineProperty(out[f.name], String(key), { value, enumerable: true, writable: true, configurable: true });
      continue;
    }
    if (typeof t === "object") {
      if (wire !== WIRE_LEN) throw new ProtoDecodeError(`${schema.fullName}.${f.name}: message with wire type ${wire}`);
      const [s, e] = r.lenDelimited();
      const sub = readMessage(new Reader(r.buf, s, e), t.message());
      if (f.repeated) (out[f.name] as Decoded[]).push(sub);
      else out[f.name] = sub; // (a repeated occurrence of a singular message should merge; Ray never sends one)
      continue;
    }
    const expected = wireTypeOf(t);
    if (f.repeated && wire === WIRE_LEN && expected !== WIRE_LEN) {
      // Packed repeated numbers.
      const [s, e] = r.lenDelimited();
      const pr = new Reader(r.buf, s, e);
      while (pr.pos < pr.end) (out[f.name] as unknown[]).push(readScalar(pr, t));
      continue;
    }
    if (wire !== expected) throw new ProtoDecodeError(`${schema.fullName}.${f.name}: wire type ${wire}, expected ${expected}`);
    const v = readScalar(r, t);
    if (f.repeated) (out[f.name] as unknown[]).push(v);
    else out[f.name] = v;
  }
  if (r.pos !== r.end) throw new ProtoDecodeError(`${schema.fullName}: read past the end`);
  return out;
}

/** Decodes `buf` as `schema`; throws ProtoDecodeError on malformed input. */
export function decodeMessage(schema: MessageSchema, buf: Uint8Array): Decoded {
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  return readMessage(new Reader(b, 0, b.length), schema);
}
