// The kernel declaration: the header it writes and the params it packs, without a device.
import { describe, expect, it } from 'vitest';
import { defineKernel, memoKernel } from './kernel.js';

describe('defineKernel', () => {
  const k = defineKernel({
    name: 'test.scaleAdd',
    params: { n: 'u32', alpha: 'f32', off: 'i32' },
    bindings: {
      x: { type: 'vec4f' },
      idx: { type: 'i32', access: 'read' },
      w: { type: 'vec4f', space: 'uniform', length: 12 },
      out: { type: 'f32', access: 'read_write' },
    },
    workgroupSize: [8, 4],
    body: '  out[gid.x] = params.alpha;',
  });

  it('writes the Params struct and numbers the bindings in declaration order', () => {
    expect(k.header).toBe(
      [
        'struct Params { n: u32, alpha: f32, off: i32 }',
        '@group(0) @binding(0) var<uniform> params: Params;',
        '@group(0) @binding(1) var<storage, read> x: array<vec4f>;',
        '@group(0) @binding(2) var<storage, read> idx: array<i32>;',
        '@group(0) @binding(3) var<uniform> w: array<vec4f, 12>;',
        '@group(0) @binding(4) var<storage, read_write> out: array<f32>;',
      ].join('\n'),
    );
    expect(k.source.storage).toEqual(['read', 'read', 'uniform', 'read_write']);
    expect(k.source.name).toBe('test.scaleAdd');
    expect(k.source.code).toContain(
      '@compute @workgroup_size(8, 4) fn main(@builtin(global_invocation_id) gid: vec3u, ' +
        '@builtin(num_workgroups) nwg: vec3u) {\n  out[gid.x] = params.alpha;\n}',
    );
  });

  it('packs params by name, in the struct order whatever the order given', () => {
    const bytes = k.pack({ off: -3, alpha: 0.5, n: 7 });
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    expect(bytes.byteLength).toBe(12);
    expect([v.getUint32(0, true), v.getFloat32(4, true), v.getInt32(8, true)]).toEqual([7, 0.5, -3]);
  });

  it('pads vector params to their WGSL alignment', () => {
    const kv = defineKernel({
      name: 'test.vec',
      params: { a: 'f32', b: 'vec2u', c: 'f32', d: 'vec4f' },
      bindings: {},
      workgroupSize: 1,
      body: '',
    });
    expect(kv.header).toBe(
      'struct Params { a: f32, b: vec2u, c: f32, d: vec4f }\n@group(0) @binding(0) var<uniform> params: Params;',
    );
    const bytes = kv.pack({ a: 1, b: [2, 3], c: 4, d: [5, 6, 7, 8] });
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    // a at 0, b at 8 (align 8), c at 16, d at 32 (align 16); size 48.
    expect(bytes.byteLength).toBe(48);
    expect([
      v.getFloat32(0, true),
      v.getUint32(8, true),
      v.getUint32(12, true),
      v.getFloat32(16, true),
      v.getFloat32(32, true),
      v.getFloat32(44, true),
    ]).toEqual([1, 2, 3, 4, 5, 8]);
  });

  it('packs an array of vec4s 16 bytes an element, after aligning it to 16', () => {
    const ka = defineKernel({
      name: 'test.array',
      params: { n: 'u32', h: 'array<vec4f, 3>' },
      bindings: {},
      workgroupSize: 1,
      body: '',
    });
    expect(ka.header).toContain('struct Params { n: u32, h: array<vec4f, 3> }');
    const bytes = ka.pack({ n: 9, h: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12] });
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    expect(bytes.byteLength).toBe(64);
    expect([v.getUint32(0, true), v.getFloat32(16, true), v.getFloat32(32, true), v.getFloat32(60, true)]).toEqual([
      9, 1, 5, 12,
    ]);
    expect(() => ka.pack({ n: 9, h: [1, 2, 3, 4] })).toThrow(/param 'h' needs 12 numbers/);
    expect(() =>
      defineKernel({
        name: 't',
        params: { n: 'u32', h: 'array<vec4f, 16>' },
        bindings: {},
        workgroupSize: 1,
        body: '',
      }),
    ).toThrow(/params take 272 bytes; at most 256/);
  });

  it('names a missing, misshapen or unknown param', () => {
    expect(() => k.pack({ n: 1, alpha: 2 } as never)).toThrow(/test.scaleAdd: param 'off' is missing/);
    expect(() => k.pack({ n: 1, alpha: 2, off: 0, beta: 1 } as never)).toThrow(
      /unknown params beta; declared: n, alpha, off/,
    );
  });

  it('omits the Params struct when there are no params, and writes enables and helpers', () => {
    const k0 = defineKernel({
      name: 'test.bare',
      params: {},
      bindings: { out: { type: 'u32', access: 'read_write' } },
      workgroupSize: 32,
      builtins: { lane: 'subgroup_invocation_id' },
      enables: ['subgroups'],
      helpers: 'fn two() -> u32 { return 2u; }',
      body: '  out[lane] = two();',
    });
    expect(k0.source.code).toBe(
      'enable subgroups;\n@group(0) @binding(1) var<storage, read_write> out: array<u32>;\n' +
        'fn two() -> u32 { return 2u; }\n' +
        '@compute @workgroup_size(32) fn main(@builtin(subgroup_invocation_id) lane: u32) {\n  out[lane] = two();\n}\n',
    );
  });

  it('refuses names that are not WGSL identifiers and uniform arrays without a length', () => {
    expect(() =>
      defineKernel({ name: 't', params: { 'a-b': 'u32' }, bindings: {}, workgroupSize: 1, body: '' }),
    ).toThrow(/'a-b' is not a WGSL identifier/);
    expect(() =>
      defineKernel({
        name: 't',
        params: {},
        bindings: { w: { type: 'f32', space: 'uniform' } },
        workgroupSize: 1,
        body: '',
      }),
    ).toThrow(/needs a fixed length/);
  });

  it('memoKernel builds each configuration once', () => {
    let built = 0;
    const gen = memoKernel((wg: number) => {
      built++;
      return defineKernel({ name: 'test.memo', params: {}, bindings: {}, workgroupSize: wg, body: '' });
    });
    expect(gen(64)).toBe(gen(64));
    expect(gen(64)).not.toBe(gen(128));
    expect(built).toBe(2);
  });
});
