// A kernel declared once: its name, named and typed params, named bindings, workgroup size and
// body. The declaration writes the WGSL header (Params struct at binding 0, buffers from
// binding 1 in declaration order), packs params by name, and launches through `launch()`,
// the one path every kernel records by.

import { runtime, type BufferRange, type KernelSource, type StorageAccess, type Tensor } from '@wgtorch/tensor';

/** A field of the `Params` uniform struct: a scalar, a vector, or a fixed array of vec4s. */
export type ParamType =
  | 'u32'
  | 'i32'
  | 'f32'
  | 'vec2u'
  | 'vec2i'
  | 'vec2f'
  | 'vec4u'
  | 'vec4i'
  | 'vec4f'
  | `array<vec4${'u' | 'i' | 'f'}, ${number}>`;

/** A buffer binding: `var<storage, access> name: array<type>` or `var<uniform> name: array<type, length>`. */
export interface BindingDecl {
  /** WGSL element type, e.g. 'f32', 'vec4f', 'i32', 'atomic<u32>'. */
  type: string;
  /** Storage access (default 'read'); ignored for uniform bindings. */
  access?: 'read' | 'read_write';
  space?: 'storage' | 'uniform';
  /** Fixed array length; required for uniform bindings (WGSL has no runtime-sized uniform arrays). */
  length?: number;
}

/** Entry-point builtins by the name the body uses, e.g. `{ gid: 'global_invocation_id' }`. */
export type Builtin =
  | 'global_invocation_id'
  | 'local_invocation_id'
  | 'local_invocation_index'
  | 'workgroup_id'
  | 'num_workgroups'
  | 'subgroup_invocation_id'
  | 'subgroup_size';

/** What defineKernel takes: a name, typed params and bindings, the workgroup size and the WGSL body. */
export interface KernelDecl<P extends Record<string, ParamType>, B extends Record<string, BindingDecl>> {
  /** Dotted name for errors and profiles, e.g. 'elementwise.relu'. */
  name: string;
  params: P;
  bindings: B;
  workgroupSize: number | readonly [number, number?, number?];
  /** The statements of `fn main`. */
  body: string;
  /** Module-scope code placed between the bindings and main: aliases, helper functions, var<workgroup>. */
  helpers?: string;
  /** Default `{ gid: 'global_invocation_id', nwg: 'num_workgroups' }` (what flatGrid launches need). */
  builtins?: Record<string, Builtin>;
  /** WGSL extensions, e.g. ['subgroups']. */
  enables?: readonly string[];
}

/** Param values by name: a number per scalar, an array per vector (4 numbers per element of an array). */
export type ParamValues<P> = { readonly [K in keyof P]: ParamValue<P[K]> };
type ParamValue<T> = T extends 'u32' | 'i32' | 'f32' ? number : readonly number[];
export type Buffers<B> = { readonly [K in keyof B]: Tensor | BufferRange };
export type Groups = readonly [number, number?, number?];

type Layout = { size: number; align: number; kind: 'u32' | 'i32' | 'f32' };
const PARAM_LAYOUT: Record<string, Layout> = {
  u32: { size: 4, align: 4, kind: 'u32' },
  i32: { size: 4, align: 4, kind: 'i32' },
  f32: { size: 4, align: 4, kind: 'f32' },
  vec2u: { size: 8, align: 8, kind: 'u32' },
  vec2i: { size: 8, align: 8, kind: 'i32' },
  vec2f: { size: 8, align: 8, kind: 'f32' },
  vec4u: { size: 16, align: 16, kind: 'u32' },
  vec4i: { size: 16, align: 16, kind: 'i32' },
  vec4f: { size: 16, align: 16, kind: 'f32' },
};

/** The layout of a param type; an array of vec4s packs its elements 16 bytes apart, as WGSL's uniform rules ask. */
function layoutOf(type: string): Layout | undefined {
  const arr = /^array<vec4([uif]), ([1-9][0-9]*)>$/.exec(type);
  if (!arr) return Object.hasOwn(PARAM_LAYOUT, type) ? PARAM_LAYOUT[type] : undefined;
  const kind = ({ u: 'u32', i: 'i32', f: 'f32' } as const)[arr[1] as 'u' | 'i' | 'f'];
  return { size: 16 * Number(arr[2]), align: 16, kind };
}

/** WGSL: `nan_bits`, a quiet NaN's bits, read at run time (WGSL rejects a NaN constant expression). */
export const NAN_BITS_WGSL = 'var<private> nan_bits: u32 = 0x7fc00000u;';

/** The dispatcher's uniform slot per dispatch. */
const MAX_PARAM_BYTES = 256;
const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
const BUILTIN_TYPE: Record<Builtin, string> = {
  global_invocation_id: 'vec3u',
  local_invocation_id: 'vec3u',
  local_invocation_index: 'u32',
  workgroup_id: 'vec3u',
  num_workgroups: 'vec3u',
  subgroup_invocation_id: 'u32',
  subgroup_size: 'u32',
};
export const FLAT_BUILTINS: Record<string, Builtin> = { gid: 'global_invocation_id', nwg: 'num_workgroups' };

interface Field {
  name: string;
  offset: number;
  /** Scalars (1) or vector components; a vector param takes a number per component as name_x, name_y, ... */
  lanes: number;
  kind: 'u32' | 'i32' | 'f32';
}

/** Records one dispatch. Every kernel launches through here. */
export function launch(k: KernelSource, bufs: readonly (Tensor | BufferRange)[], groups: Groups, p?: Uint8Array): void {
  runtime().dispatcher.dispatch(k, bufs.map(rangeOf), groups, p);
}

/** A tensor's binding, or the range itself. */
function rangeOf(b: Tensor | BufferRange): BufferRange {
  // Duck-typed rather than instanceof, so a second copy of @wgtorch/tensor (dist beside source) still works.
  return typeof (b as Tensor).binding === 'function' ? (b as Tensor).binding() : (b as BufferRange);
}

/** A compute kernel from defineKernel: its generated WGSL and launch() with named params and buffers. */
export class Kernel<P extends Record<string, ParamType>, B extends Record<string, BindingDecl>> {
  readonly source: KernelSource;
  /** The generated header: enables, Params struct and bindings (for tests and error reports). */
  readonly header: string;
  private readonly fields: Field[] = [];
  private readonly bindingNames: string[];
  private readonly bytes: Uint8Array;
  private readonly view: DataView;

  constructor(decl: KernelDecl<P, B>) {
    const where = `defineKernel '${decl.name}'`;
    const paramLines: string[] = [];
    let offset = 0;
    let maxAlign = 4;
    for (const [name, type] of Object.entries(decl.params)) {
      if (!IDENT.test(name)) throw new Error(`${where}: param name '${name}' is not a WGSL identifier.`);
      const layout = layoutOf(type);
      if (!layout)
        throw new Error(
          `${where}: param '${name}' has type '${type}'; use one of ${Object.keys(PARAM_LAYOUT).join(', ')} ` +
            'or array<vec4f, N> (vec4u, vec4i).',
        );
      offset = Math.ceil(offset / layout.align) * layout.align;
      maxAlign = Math.max(maxAlign, layout.align);
      this.fields.push({ name, offset, lanes: layout.size / 4, kind: layout.kind });
      paramLines.push(`${name}: ${type}`);
      offset += layout.size;
    }
    const size = Math.max(4, Math.ceil(offset / maxAlign) * maxAlign);
    if (size > MAX_PARAM_BYTES)
      throw new Error(`${where}: params take ${size} bytes; at most ${MAX_PARAM_BYTES} fit a dispatch.`);
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);

    const lines: string[] = (decl.enables ?? []).map((e) => `enable ${e};`);
    if (paramLines.length) {
      lines.push(`struct Params { ${paramLines.join(', ')} }`, '@group(0) @binding(0) var<uniform> params: Params;');
    }
    const storage: StorageAccess[] = [];
    this.bindingNames = Object.keys(decl.bindings);
    this.bindingNames.forEach((name, i) => {
      if (!IDENT.test(name)) throw new Error(`${where}: binding name '${name}' is not a WGSL identifier.`);
      const b = decl.bindings[name];
      if (b.space === 'uniform') {
        if (!b.length) throw new Error(`${where}: uniform binding '${name}' needs a fixed length.`);
        lines.push(`@group(0) @binding(${i + 1}) var<uniform> ${name}: array<${b.type}, ${b.length}>;`);
        storage.push('uniform');
      } else {
        const access = b.access ?? 'read';
        const arr = b.length ? `array<${b.type}, ${b.length}>` : `array<${b.type}>`;
        lines.push(`@group(0) @binding(${i + 1}) var<storage, ${access}> ${name}: ${arr};`);
        storage.push(access);
      }
    });
    this.header = lines.join('\n');

    const wg =
      typeof decl.workgroupSize === 'number' ? [decl.workgroupSize] : decl.workgroupSize.filter((d) => d !== undefined);
    const args = Object.entries(decl.builtins ?? FLAT_BUILTINS)
      .map(([name, b]) => `@builtin(${b}) ${name}: ${BUILTIN_TYPE[b]}`)
      .join(', ');
    const helpers = decl.helpers ? `${decl.helpers}\n` : '';
    const entry = `@compute @workgroup_size(${wg.join(', ')}) fn main(${args})`;
    const code = `${this.header}\n${helpers}${entry} {\n${decl.body}\n}\n`;
    this.source = { name: decl.name, code, storage };
  }

  /** The Params bytes for `values` (a view reused by the next call; the dispatcher copies it at once). */
  pack(values: ParamValues<P>): Uint8Array {
    const given = values as Record<string, number | readonly number[]>;
    for (const f of this.fields) {
      const v = given[f.name];
      if (f.lanes === 1) {
        if (typeof v !== 'number')
          throw new Error(`${this.source.name}: param '${f.name}' is missing (got ${String(v)}).`);
        this.put(f.offset, f.kind, v);
      } else {
        if (!Array.isArray(v) || v.length !== f.lanes) {
          throw new Error(`${this.source.name}: param '${f.name}' needs ${f.lanes} numbers (got ${String(v)}).`);
        }
        for (let i = 0; i < f.lanes; i++) this.put(f.offset + 4 * i, f.kind, v[i]);
      }
    }
    let count = 0;
    for (const _ in given) count++;
    if (count !== this.fields.length) {
      const extra = Object.keys(given).filter((n) => !this.fields.some((f) => f.name === n));
      throw new Error(
        `${this.source.name}: unknown params ${extra.join(', ')}; ` +
          `declared: ${this.fields.map((f) => f.name).join(', ')}.`,
      );
    }
    return this.bytes;
  }

  /** Records one dispatch of `groups` workgroups binding `buffers` by name. */
  launch(buffers: Buffers<B>, values: ParamValues<P>, groups: Groups): void {
    const given = buffers as Record<string, Tensor | BufferRange>;
    const names = this.bindingNames;
    const ranges: BufferRange[] = new Array(names.length);
    for (let i = 0; i < names.length; i++) {
      const b = given[names[i]];
      if (!b) throw new Error(`${this.source.name}: buffer '${names[i]}' is missing; bindings: ${names.join(', ')}.`);
      ranges[i] = rangeOf(b);
    }
    runtime().dispatcher.dispatch(this.source, ranges, groups, this.fields.length ? this.pack(values) : undefined);
  }

  private put(offset: number, kind: Field['kind'], v: number): void {
    if (kind === 'u32') this.view.setUint32(offset, v >>> 0, true);
    else if (kind === 'i32') this.view.setInt32(offset, v | 0, true);
    else this.view.setFloat32(offset, v, true);
  }
}

/** A kernel whose params and bindings are known only at run time (generated per configuration). */
export type AnyKernel = Kernel<Record<string, ParamType>, Record<string, BindingDecl>>;

/**
 * Declares a kernel: writes the WGSL header (Params struct, numbered bindings, entry point) from named,
 * typed params and bindings.
 */
export function defineKernel<P extends Record<string, ParamType>, B extends Record<string, BindingDecl>>(
  decl: KernelDecl<P, B>,
): Kernel<P, B> {
  return new Kernel(decl);
}

/** Memoizes a kernel generator by its configuration, so each configuration builds its code once. */
export function memoKernel<A extends unknown[], K>(build: (...args: A) => K): (...args: A) => K {
  const cache = new Map<string, K>();
  return (...args: A) => {
    const key = JSON.stringify(args);
    let k = cache.get(key);
    if (!k) cache.set(key, (k = build(...args)));
    return k;
  };
}
