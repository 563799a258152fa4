/**
 * A tiny pickler for test fixtures, written from the pickle opcode tables (CPython Lib/pickletools.py) and
 * numpy's ndarray/dtype __reduce__, independently of the reader under test. It emits the opcode sequences
 * CPython produces for a dict of numpy arrays, in three flavours:
 *  - 'py2': Python 2 cPickle, protocol 2 — how the published ImageNet32 files were written: byte strings
 *    (SHORT_BINSTRING / BINSTRING) for keys and raw array data, memo ids from 1, dtype args (code, 0, 1);
 *  - 'py3-proto2': Python 3 pickle, protocol 2 — unicode keys, bytes as _codecs.encode(latin-1 text, 'latin1');
 *  - 'py3-proto4': Python 3 pickle, protocol 4 — FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL, (SHORT_)BINBYTES.
 * (Checked against `pickle.dumps(…, protocol=2|4)` of numpy 2 with pickletools.dis.)
 */

export type Flavor = 'py2' | 'py3-proto2' | 'py3-proto4';

export type PyValue =
  | number
  | string
  | boolean
  | null
  | { t: 'float'; v: number }
  | { t: 'bytes'; v: Uint8Array }
  | { t: 'tuple'; items: PyValue[] }
  | { t: 'list'; items: PyValue[] }
  | { t: 'dict'; entries: [string, PyValue][] }
  | NdValue;

export interface NdValue {
  t: 'nd';
  /** numpy dtype code. */
  code: 'u1' | 'i8' | 'f4' | 'f8';
  shape: number[];
  /** Raw little-endian C-order element bytes. */
  raw: Uint8Array;
}

export interface WriterOptions {
  /** numpy's module for _reconstruct: 'numpy.core.multiarray' (numpy 1) or 'numpy._core.multiarray' (numpy 2). */
  numpyCore?: string;
  /** Write bytes objects with BINBYTES8 (CPython does so only beyond 4 GiB) to exercise that opcode. */
  bytes8?: boolean;
}

const te = new TextEncoder();

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}
function i32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, n, true);
  return b;
}
function u64(n: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
  return b;
}
function latin1(s: string): Uint8Array {
  return Uint8Array.from(s, (ch) => ch.charCodeAt(0));
}

class Pickler {
  private readonly chunks: Uint8Array[] = [];
  private readonly memo = new Map<string, number>();
  private next: number;

  constructor(private readonly flavor: Flavor, private readonly opts: WriterOptions) {
    // cPickle numbers its memo from 1, pickle.py from 0
    this.next = flavor === 'py2' ? 1 : 0;
  }

  private emit(...parts: (number | Uint8Array)[]): void {
    for (const p of parts) this.chunks.push(typeof p === 'number' ? Uint8Array.of(p) : p);
  }

  private put(): number {
    const id = this.next++;
    if (this.flavor === 'py3-proto4') this.emit(0x94);
    else if (id < 256) this.emit(0x71, id);
    else this.emit(0x72, u32(id));
    return id;
  }

  private get(id: number): void {
    if (id < 256) this.emit(0x68, id);
    else this.emit(0x6a, u32(id));
  }

  /** Memoized by value, as CPython does for the same global or interned string seen twice. */
  private memoized(key: string, write: () => void): void {
    const id = this.memo.get(key);
    if (id !== undefined) return this.get(id);
    write();
    this.memo.set(key, this.put());
  }

  text(s: string): void {
    this.memoized(`str:${s}`, () => {
      if (this.flavor === 'py2') {
        const b = latin1(s);
        if (b.length < 256) this.emit(0x55, b.length, b);
        else this.emit(0x54, i32(b.length), b);
      } else if (this.flavor === 'py3-proto4' && te.encode(s).length < 256) {
        const b = te.encode(s);
        this.emit(0x8c, b.length, b);
      } else {
        const b = te.encode(s);
        this.emit(0x58, u32(b.length), b);
      }
    });
  }

  global(module: string, name: string): void {
    this.memoized(`global:${module}.${name}`, () => {
      if (this.flavor === 'py3-proto4') {
        this.text(module);
        this.text(name);
        this.emit(0x93);
      } else {
        this.emit(0x63, latin1(`${module}\n${name}\n`));
      }
    });
  }

  bytes(b: Uint8Array): void {
    if (this.flavor === 'py2') {
      if (b.length < 256) this.emit(0x55, b.length, b);
      else this.emit(0x54, i32(b.length), b);
      this.put();
    } else if (this.flavor === 'py3-proto2') {
      // Python 3 protocol 2 has no bytes opcode: _codecs.encode(bytes.decode('latin1'), 'latin1')
      this.global('_codecs', 'encode');
      const s = Buffer.from(b).toString('latin1');
      const utf8 = te.encode(s);
      this.emit(0x58, u32(utf8.length), utf8);
      this.put();
      this.text('latin1');
      this.emit(0x86);
      this.put();
      this.emit(0x52);
      this.put();
    } else {
      if (this.opts.bytes8) this.emit(0x8e, u64(b.length), b);
      else if (b.length < 256) this.emit(0x43, b.length, b);
      else this.emit(0x42, u32(b.length), b);
      this.put();
    }
  }

  int(n: number): void {
    if (n >= 0 && n < 256) this.emit(0x4b, n);
    else if (n >= 0 && n < 65536) this.emit(0x4d, Uint8Array.of(n & 255, n >> 8));
    else this.emit(0x4a, i32(n));
  }

  tuple(items: PyValue[]): void {
    if (items.length === 0) return this.emit(0x29);
    if (items.length > 3) this.emit(0x28);
    for (const item of items) this.value(item);
    this.emit(items.length > 3 ? 0x74 : 0x84 + items.length);
    this.put();
  }

  /** ndarray.__reduce__: _reconstruct(ndarray, (0,), b'b') then BUILD (1, shape, dtype, False, raw). */
  ndarray(a: NdValue): void {
    this.global(this.opts.numpyCore ?? 'numpy.core.multiarray', '_reconstruct');
    this.global('numpy', 'ndarray');
    this.tuple([0]);
    if (this.flavor === 'py2') this.emit(0x55, 1, latin1('b'));
    else this.bytes(latin1('b'));
    this.emit(0x87);
    this.put();
    this.emit(0x52);
    this.put();
    this.emit(0x28);
    this.int(1);
    this.tuple(a.shape);
    this.dtype(a.code);
    this.emit(0x89);
    this.bytes(a.raw);
    this.emit(0x74);
    this.put();
    this.emit(0x62);
  }

  dtype(code: string): void {
    this.global('numpy', 'dtype');
    this.text(code);
    // numpy of the Python 2 era reduced a dtype with ints (code, 0, 1), later ones with (code, False, True)
    if (this.flavor === 'py2') this.emit(0x4b, 0, 0x4b, 1);
    else this.emit(0x89, 0x88);
    this.emit(0x87);
    this.put();
    this.emit(0x52);
    this.put();
    this.emit(0x28);
    this.int(3);
    this.text(code === 'u1' ? '|' : '<');
    this.emit(0x4e, 0x4e, 0x4e);
    this.int(-1);
    this.int(-1);
    this.int(0);
    this.emit(0x74);
    this.put();
    this.emit(0x62);
  }

  value(v: PyValue): void {
    if (v === null) return this.emit(0x4e);
    if (v === true) return this.emit(0x88);
    if (v === false) return this.emit(0x89);
    if (typeof v === 'number') return this.int(v);
    if (typeof v === 'string') return this.text(v);
    switch (v.t) {
      case 'float': {
        const b = new Uint8Array(8);
        new DataView(b.buffer).setFloat64(0, v.v, false);
        return this.emit(0x47, b);
      }
      case 'bytes':
        return this.bytes(v.v);
      case 'tuple':
        return this.tuple(v.items);
      case 'nd':
        return this.ndarray(v);
      case 'list':
        this.emit(0x5d);
        this.put();
        // batches of 1000 as both picklers do; a lone item uses APPEND
        for (let i = 0; i < v.items.length; i += 1000) {
          const batch = v.items.slice(i, i + 1000);
          if (batch.length === 1) {
            this.value(batch[0]);
            this.emit(0x61);
          } else {
            this.emit(0x28);
            for (const item of batch) this.value(item);
            this.emit(0x65);
          }
        }
        return;
      case 'dict':
        this.emit(0x7d);
        this.put();
        if (v.entries.length === 1) {
          this.text(v.entries[0][0]);
          this.value(v.entries[0][1]);
          return this.emit(0x73);
        }
        this.emit(0x28);
        for (const [key, value] of v.entries) {
          this.text(key);
          this.value(value);
        }
        return this.emit(0x75);
    }
  }

  finish(): Uint8Array {
    const body = Buffer.concat(this.chunks);
    if (this.flavor === 'py3-proto4') {
      // one FRAME over the whole body (CPython cuts frames at 64 KiB; the reader treats them as hints either way)
      return Buffer.concat([Uint8Array.of(0x80, 4, 0x95), u64(body.length + 1), body, Uint8Array.of(0x2e)]);
    }
    return Buffer.concat([Uint8Array.of(0x80, 2), body, Uint8Array.of(0x2e)]);
  }
}

export function pickle(value: PyValue, flavor: Flavor = 'py2', opts: WriterOptions = {}): Uint8Array {
  const p = new Pickler(flavor, opts);
  p.value(value);
  return p.finish();
}

/** A uint8 array [rows.length / width, width]. */
export function ndUint8(rows: Uint8Array, width: number): NdValue {
  return { t: 'nd', code: 'u1', shape: [rows.length / width, width], raw: rows };
}

export function ndFloat64(values: number[]): NdValue {
  const raw = new Uint8Array(8 * values.length);
  const view = new DataView(raw.buffer);
  values.forEach((v, i) => view.setFloat64(8 * i, v, true));
  return { t: 'nd', code: 'f8', shape: [values.length], raw };
}
