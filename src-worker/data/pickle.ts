import { DataError } from './types';

/**
 * A restricted reader for the Python pickles that hold numpy arrays (the ImageNet32 batch files). Pickle is a
 * small stack machine whose GLOBAL/REDUCE opcodes can call any Python function; this reader knows only the
 * opcodes those files use and replaces "call any function" with a fixed table of the numpy reconstruction
 * functions, emulated here. Everything else fails with the opcode and its byte offset.
 *
 * Value mapping: None → null, bool → boolean, int → number, float → number, unicode → string, Python 2 str and
 * bytes → Uint8Array (Python 2 wrote both keys and raw array data as `str`; `pyText` reads such a value as
 * latin-1 text where text is meant), list → array, tuple → PyTuple, dict → Map, numpy ndarray → NdArray.
 */

export type NdDtype = 'uint8' | 'int64' | 'float32' | 'float64';

export interface NdArray {
  kind: 'ndarray';
  dtype: NdDtype;
  shape: number[];
  /** C-order elements. uint8 data is a view into the pickle's bytes, not a copy. */
  data: Uint8Array | BigInt64Array | Float32Array | Float64Array;
}

export class PyTuple {
  constructor(readonly items: PickleValue[]) {}
}

export type PickleValue =
  | null
  | boolean
  | number
  | string
  | Uint8Array
  | PickleValue[]
  | PyTuple
  | Map<PickleKey, PickleValue>
  | NdArray
  | Internal;

export type PickleKey = string | number | boolean | null;

/** Objects that only live while unpickling: an allowed global, a dtype and an array awaiting their BUILD. */
type Internal = PyGlobal | DTypeObject | PendingArray;

class PyGlobal {
  constructor(readonly module: string, readonly name: string) {}
  get qualified(): string {
    return `${this.module}.${this.name}`;
  }
}

class DTypeObject {
  byteOrder = '|';
  constructor(readonly code: string) {}
}

/** What numpy.core.multiarray._reconstruct returns: an empty array that BUILD fills in place (memo shares it). */
class PendingArray {
  array: NdArray | null = null;
}

/** (module, name) pairs GLOBAL/STACK_GLOBAL may name; nothing outside this table is ever resolved. */
const ALLOWED_GLOBALS = new Set([
  'numpy.core.multiarray._reconstruct',
  'numpy._core.multiarray._reconstruct',
  'numpy.ndarray',
  'numpy.dtype',
  // Python 3 writes bytes under protocol 2 as _codecs.encode(latin-1 text, 'latin1'); a pure function
  '_codecs.encode',
]);

/** numpy dtype codes → our element types and their sizes in bytes. */
const DTYPE_CODES: Record<string, { dtype: NdDtype; size: number }> = {
  u1: { dtype: 'uint8', size: 1 },
  i8: { dtype: 'int64', size: 8 },
  f4: { dtype: 'float32', size: 4 },
  f8: { dtype: 'float64', size: 8 },
};

const OPCODE_NAMES: Record<number, string> = {
  0x80: 'PROTO', 0x95: 'FRAME', 0x7d: 'EMPTY_DICT', 0x28: 'MARK', 0x58: 'BINUNICODE', 0x8c: 'SHORT_BINUNICODE',
  0x8d: 'BINUNICODE8', 0x54: 'BINSTRING', 0x55: 'SHORT_BINSTRING', 0x42: 'BINBYTES', 0x43: 'SHORT_BINBYTES',
  0x8e: 'BINBYTES8', 0x4a: 'BININT', 0x4b: 'BININT1', 0x4d: 'BININT2', 0x8a: 'LONG1', 0x5d: 'EMPTY_LIST',
  0x65: 'APPENDS', 0x61: 'APPEND', 0x75: 'SETITEMS', 0x73: 'SETITEM', 0x71: 'BINPUT', 0x72: 'LONG_BINPUT',
  0x94: 'MEMOIZE', 0x68: 'BINGET', 0x6a: 'LONG_BINGET', 0x74: 'TUPLE', 0x85: 'TUPLE1', 0x86: 'TUPLE2',
  0x87: 'TUPLE3', 0x29: 'EMPTY_TUPLE', 0x63: 'GLOBAL', 0x93: 'STACK_GLOBAL', 0x52: 'REDUCE', 0x62: 'BUILD',
  0x89: 'NEWFALSE', 0x88: 'NEWTRUE', 0x4e: 'NONE', 0x47: 'BINFLOAT', 0x2e: 'STOP',
  // known to pickle but refused here
  0x69: 'INST', 0x6f: 'OBJ', 0x81: 'NEWOBJ', 0x92: 'NEWOBJ_EX', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4',
  0x50: 'PERSID', 0x51: 'BINPERSID', 0x97: 'BYTEARRAY8', 0x98: 'NEXT_BUFFER', 0x99: 'READONLY_BUFFER',
  0x49: 'INT', 0x4c: 'LONG', 0x46: 'FLOAT', 0x53: 'STRING', 0x56: 'UNICODE', 0x70: 'PUT', 0x67: 'GET',
  0x8b: 'LONG4', 0x6c: 'LIST', 0x64: 'DICT', 0x30: 'POP', 0x31: 'DUP', 0x32: 'POP_MARK', 0x90: 'EMPTY_SET',
  0x91: 'ADDITEMS', 0x96: 'FROZENSET',
};


export function isNdArray(value: PickleValue | undefined): value is NdArray {
  return typeof value === 'object' && value !== null && 'kind' in value && value.kind === 'ndarray';
}

/** A Python 2 str or a unicode string as text (Python 2 pickles keys and dtype codes as byte strings). */
export function pyText(value: PickleValue): string | null {
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('latin1');
  return null;
}

function describe(value: PickleValue): string {
  if (value === null) return 'None';
  if (Array.isArray(value)) return 'list';
  if (value instanceof Uint8Array) return `bytes(${value.length})`;
  if (value instanceof PyTuple) return `tuple(${value.items.length})`;
  if (value instanceof Map) return 'dict';
  if (value instanceof PyGlobal) return value.qualified;
  if (value instanceof DTypeObject) return `dtype(${value.code})`;
  if (value instanceof PendingArray || isNdArray(value)) return 'ndarray';
  return typeof value;
}

class Unpickler {
  private pos = 0;
  private opStart = 0;
  private op = 0;
  private readonly stack: PickleValue[] = [];
  private readonly marks: number[] = [];
  private readonly memo = new Map<number, PickleValue>();
  private readonly view: DataView;

  constructor(private readonly bytes: Uint8Array, private readonly file: string) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private fail(problem: string): never {
    const name = OPCODE_NAMES[this.op] ?? 'unknown';
    throw new DataError(`${this.file}: pickle opcode ${name} (0x${this.op.toString(16).padStart(2, '0')}) at byte ${this.opStart}: ${problem}`);
  }

  private need(n: number): number {
    if (n < 0 || this.pos + n > this.bytes.length) {
      throw new DataError(
        `${this.file}: pickle is truncated: opcode ${OPCODE_NAMES[this.op] ?? '?'} at byte ${this.opStart} needs ${n} more bytes ` +
          `at byte ${this.pos}, but the file has ${this.bytes.length}`,
      );
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }

  private u8(): number {
    return this.bytes[this.need(1)];
  }
  private u16(): number {
    return this.view.getUint16(this.need(2), true);
  }
  private i32(): number {
    return this.view.getInt32(this.need(4), true);
  }
  private u32(): number {
    return this.view.getUint32(this.need(4), true);
  }
  private u64(): number {
    const at = this.need(8);
    const value = this.view.getBigUint64(at, true);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`length ${value} is too large`);
    return Number(value);
  }

  /** A view of the next n bytes: the large array data is never copied here. */
  private raw(n: number): Uint8Array {
    const at = this.need(n);
    return this.bytes.subarray(at, at + n);
  }

  private utf8(n: number): string {
    return Buffer.from(this.raw(n)).toString('utf8');
  }

  private line(): string {
    const end = this.bytes.indexOf(0x0a, this.pos);
    if (end < 0) this.need(this.bytes.length - this.pos + 1);
    const text = Buffer.from(this.bytes.subarray(this.pos, end)).toString('latin1');
    this.pos = end + 1;
    return text;
  }

  private push(value: PickleValue): void {
    this.stack.push(value);
  }

  private pop(): PickleValue {
    const floor = this.marks.length > 0 ? this.marks[this.marks.length - 1] : 0;
    if (this.stack.length <= floor) this.fail(this.stack.length === 0 ? 'the stack is empty' : 'nothing above the MARK');
    return this.stack.pop()!;
  }

  private top(): PickleValue {
    if (this.stack.length === 0) this.fail('the stack is empty');
    return this.stack[this.stack.length - 1]!;
  }

  /** Everything above the last MARK, which is removed. */
  private popMark(): PickleValue[] {
    const mark = this.marks.pop();
    if (mark === undefined) this.fail('no MARK on the stack');
    return this.stack.splice(mark);
  }

  private key(value: PickleValue): PickleKey {
    if (value instanceof Uint8Array) return pyText(value)!;
    if (value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
    return this.fail(`a ${describe(value)} cannot be a dict key here`);
  }

  private memoPut(index: number): void {
    this.memo.set(index, this.top());
  }

  private resolveGlobal(module: string, name: string): PyGlobal {
    const qualified = `${module}.${name}`;
    if (!ALLOWED_GLOBALS.has(qualified)) {
      this.fail(`global ${qualified} is not allowed (only numpy array reconstruction is: ${[...ALLOWED_GLOBALS].join(', ')})`);
    }
    return new PyGlobal(module, name);
  }

  run(): PickleValue {
    for (;;) {
      this.opStart = this.pos;
      this.op = 0;
      if (this.pos >= this.bytes.length) {
        throw new DataError(`${this.file}: pickle is truncated: no STOP opcode before the end of the file at byte ${this.bytes.length}`);
      }
      this.op = this.bytes[this.pos++]!;
      switch (this.op) {
        case 0x80: {
          const proto = this.u8();
          if (proto > 5) this.fail(`unsupported protocol ${proto}`);
          break;
        }
        case 0x95: // FRAME: a length prefix only meant for buffered readers; we hold the whole file
          this.u64();
          break;
        case 0x2e: {
          const result = this.pop();
          return result;
        }
        case 0x28:
          this.marks.push(this.stack.length);
          break;
        case 0x7d:
          this.push(new Map());
          break;
        case 0x5d:
          this.push([]);
          break;
        case 0x29:
          this.push(new PyTuple([]));
          break;
        case 0x4e:
          this.push(null);
          break;
        case 0x88:
          this.push(true);
          break;
        case 0x89:
          this.push(false);
          break;
        case 0x4b:
          this.push(this.u8());
          break;
        case 0x4d:
          this.push(this.u16());
          break;
        case 0x4a:
          this.push(this.i32());
          break;
        case 0x8a:
          this.push(this.long1());
          break;
        case 0x47:
          this.push(this.view.getFloat64(this.need(8), false));
          break;
        case 0x58:
          this.push(this.utf8(this.u32()));
          break;
        case 0x8c:
          this.push(this.utf8(this.u8()));
          break;
        case 0x8d:
          this.push(this.utf8(this.u64()));
          break;
        case 0x54: {
          const n = this.i32();
          if (n < 0) this.fail(`negative string length ${n}`);
          this.push(this.raw(n));
          break;
        }
        case 0x55:
        case 0x43:
          this.push(this.raw(this.u8()));
          break;
        case 0x42:
          this.push(this.raw(this.u32()));
          break;
        case 0x8e:
          this.push(this.raw(this.u64()));
          break;
        case 0x61: {
          const item = this.pop();
          this.listAt(this.top()).push(item);
          break;
        }
        case 0x65: {
          const items = this.popMark();
          this.listAt(this.top()).push(...items);
          break;
        }
        case 0x73: {
          const value = this.pop();
          const key = this.pop();
          this.dictAt(this.top()).set(this.key(key), value);
          break;
        }
        case 0x75: {
          const items = this.popMark();
          if (items.length % 2 !== 0) this.fail(`odd number of items (${items.length}) for key/value pairs`);
          const dict = this.dictAt(this.top());
          for (let i = 0; i < items.length; i += 2) dict.set(this.key(items[i]), items[i + 1]);
          break;
        }
        case 0x71:
          this.memoPut(this.u8());
          break;
        case 0x72:
          this.memoPut(this.u32());
          break;
        case 0x94:
          this.memoPut(this.memo.size);
          break;
        case 0x68:
        case 0x6a: {
          const index = this.op === 0x68 ? this.u8() : this.u32();
          if (!this.memo.has(index)) this.fail(`memo entry ${index} was never stored`);
          this.push(this.memo.get(index)!);
          break;
        }
        case 0x74:
          this.push(new PyTuple(this.popMark()));
          break;
        case 0x85:
        case 0x86:
        case 0x87: {
          const n = this.op - 0x84;
          const items: PickleValue[] = [];
          for (let i = 0; i < n; i++) items.unshift(this.pop());
          this.push(new PyTuple(items));
          break;
        }
        case 0x63: {
          const module = this.line();
          const name = this.line();
          this.push(this.resolveGlobal(module, name));
          break;
        }
        case 0x93: {
          const name = this.pop();
          const module = this.pop();
          if (typeof module !== 'string' || typeof name !== 'string') this.fail('STACK_GLOBAL needs two strings');
          this.push(this.resolveGlobal(module, name));
          break;
        }
        case 0x52: {
          const args = this.pop();
          const callable = this.pop();
          this.push(this.reduce(callable, args));
          break;
        }
        case 0x62: {
          const state = this.pop();
          this.build(this.top(), state);
          break;
        }
        default:
          this.fail('opcode not supported by this restricted reader');
      }
    }
  }

  private long1(): number {
    const n = this.u8();
    const bytes = this.raw(n);
    let value = 0n;
    for (let i = n - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]);
    if (n > 0 && bytes[n - 1] >= 0x80) value -= 1n << BigInt(8 * n);
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
      this.fail(`integer ${value} is beyond JavaScript's exact range`);
    }
    return Number(value);
  }

  private listAt(value: PickleValue): PickleValue[] {
    if (!Array.isArray(value)) this.fail(`expected a list below the items, found ${describe(value)}`);
    return value;
  }

  private dictAt(value: PickleValue): Map<PickleKey, PickleValue> {
    if (!(value instanceof Map)) this.fail(`expected a dict below the items, found ${describe(value)}`);
    return value;
  }

  private args(value: PickleValue, what: string): PickleValue[] {
    if (!(value instanceof PyTuple)) this.fail(`${what} expects a tuple of arguments, found ${describe(value)}`);
    return value.items;
  }

  private reduce(callable: PickleValue, argsValue: PickleValue): PickleValue {
    if (!(callable instanceof PyGlobal)) this.fail(`cannot call a ${describe(callable)}`);
    const args = this.args(argsValue, callable.qualified);
    switch (callable.name) {
      case '_reconstruct': {
        const subtype = args[0];
        if (!(subtype instanceof PyGlobal) || subtype.qualified !== 'numpy.ndarray') {
          this.fail(`_reconstruct of ${subtype === undefined ? 'nothing' : describe(subtype)}: only numpy.ndarray is supported`);
        }
        return new PendingArray();
      }
      case 'dtype': {
        const code = args[0] === undefined ? null : pyText(args[0]);
        if (code === null || !(code in DTYPE_CODES)) {
          this.fail(`dtype ${code ?? describe(args[0] ?? null)} is not supported (only ${Object.keys(DTYPE_CODES).join(', ')})`);
        }
        return new DTypeObject(code);
      }
      case 'encode': {
        const [text, encoding] = args;
        if (typeof text !== 'string' || encoding !== 'latin1') this.fail("_codecs.encode is only supported as (str, 'latin1')");
        const out = new Uint8Array(text.length);
        for (let i = 0; i < text.length; i++) {
          const code = text.charCodeAt(i);
          if (code > 0xff) this.fail(`character U+${code.toString(16)} is not latin-1`);
          out[i] = code;
        }
        return out;
      }
      default:
        return this.fail(`calling ${callable.qualified} is not supported`);
    }
  }

  private build(target: PickleValue, state: PickleValue): void {
    if (target instanceof DTypeObject) {
      // (version, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata])
      const items = this.args(state, 'dtype state');
      const order = items[1] === undefined ? null : pyText(items[1]);
      if (order === null || !['|', '<', '>', '='].includes(order)) this.fail(`dtype byte order ${String(order)} is not understood`);
      if (items[2] !== null || items[3] !== null || items[4] !== null) this.fail('structured and sub-array dtypes are not supported');
      target.byteOrder = order;
      return;
    }
    if (target instanceof PendingArray) {
      target.array = this.ndarray(this.args(state, 'ndarray state'));
      return;
    }
    this.fail(`BUILD on a ${describe(target)} is not supported`);
  }

  /** ndarray.__setstate__: (version, shape, dtype, is_fortran, rawdata), version optional. */
  private ndarray(state: PickleValue[]): NdArray {
    const items = state.length === 5 ? state.slice(1) : state;
    if (items.length !== 4) this.fail(`ndarray state has ${state.length} items, expected 4 or 5`);
    const [shapeValue, dtype, fortran, rawValue] = items as [PickleValue, PickleValue, PickleValue, PickleValue];
    if (!(shapeValue instanceof PyTuple) || !shapeValue.items.every((d) => Number.isInteger(d) && (d as number) >= 0)) {
      this.fail(`ndarray shape ${describe(shapeValue)} is not a tuple of non-negative ints`);
    }
    const shape = shapeValue.items as number[];
    if (!(dtype instanceof DTypeObject)) this.fail(`ndarray dtype is a ${describe(dtype)}`);
    if (fortran === true || fortran === 1) {
      if (shape.length > 1) this.fail('Fortran-ordered arrays are not supported');
    }
    if (!(rawValue instanceof Uint8Array)) this.fail(`ndarray data is a ${describe(rawValue)}; only raw bytes are supported`);
    const { dtype: kind, size } = DTYPE_CODES[dtype.code];
    const count = shape.reduce((a, b) => a * b, 1);
    if (rawValue.length !== count * size) {
      this.fail(`ndarray data has ${rawValue.length} bytes, but shape [${shape.join(', ')}] of ${kind} needs ${count * size}`);
    }
    return { kind: 'ndarray', dtype: kind, shape: [...shape], data: this.elements(kind, rawValue, count, dtype.byteOrder === '>') };
  }

  private elements(kind: NdDtype, raw: Uint8Array, count: number, bigEndian: boolean): NdArray['data'] {
    if (kind === 'uint8') return raw;
    // wider types are copied element by element: the data may be unaligned within the file
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const little = !bigEndian;
    if (kind === 'int64') {
      const out = new BigInt64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getBigInt64(8 * i, little);
      return out;
    }
    if (kind === 'float32') {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, little);
      return out;
    }
    const out = new Float64Array(count);
    for (let i = 0; i < count; i++) out[i] = view.getFloat64(8 * i, little);
    return out;
  }
}

/** Replaces pending numpy objects by their finished form so callers see only plain values and NdArrays. */
function finish(value: PickleValue, file: string, seen = new Set<object>()): PickleValue {
  if (value instanceof PendingArray) {
    if (!value.array) throw new DataError(`${file}: pickle holds an ndarray that was never given its state (BUILD)`);
    return value.array;
  }
  if (value instanceof PyGlobal || value instanceof DTypeObject) return value;
  if (typeof value !== 'object' || value === null || value instanceof Uint8Array || isNdArray(value)) return value;
  if (seen.has(value)) return value;
  seen.add(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = finish(value[i], file, seen);
  } else if (value instanceof PyTuple) {
    for (let i = 0; i < value.items.length; i++) value.items[i] = finish(value.items[i], file, seen);
  } else if (value instanceof Map) {
    for (const [k, v] of value) value.set(k, finish(v, file, seen));
  }
  return value;
}

/**
 * Unpickles `bytes` (the whole file). `file` names the source in errors. uint8 arrays in the result are views
 * into `bytes`, so keeping one keeps the file's buffer alive.
 */
export function readPickle(bytes: Uint8Array, file: string): PickleValue {
  return finish(new Unpickler(bytes, file).run(), file);
}
