// WGSL math functions that WGSL lacks or leaves to the implementation (erf, log1p, a tanh that
// never overflows, C's pow with its special cases, a NaN test that no compiler folds away).
// Written once over `T` (f32 or vec4f, with U and B its u32 and bool forms) and emitted into an
// elementwise kernel only where its expression calls them.

const MAX_F32 = '0x1.fffffep+127f';

/** name -> [WGSL source, the ew_* functions it calls]. */
const FUNCTIONS: Record<string, [string, string[]]> = {
  // The bits, not `x != x`, which a compiler may fold to false.
  isnan: [`fn ew_isnan(x: T) -> B { return (bitcast<U>(x) & U(0x7fffffffu)) > U(0x7f800000u); }`, []],
  // A quiet NaN and +inf made from x's bits (a constant NaN or inf is a shader-creation error).
  nanlike: [`fn ew_nanlike(x: T) -> T { return bitcast<T>(bitcast<U>(x) | U(0x7fc00000u)); }`, []],
  inflike: [`fn ew_inflike(x: T) -> T { return bitcast<T>((bitcast<U>(x) & U(0u)) | U(0x7f800000u)); }`, []],
  // exp of -2|x| never overflows, unlike the textbook (e^2x - 1) / (e^2x + 1).
  tanh: [
    `fn ew_tanh(x: T) -> T {
  let e = exp(T(-2.0) * abs(x));
  return sign(x) * (T(1.0) - e) / (T(1.0) + e);
}`,
    [],
  ],
  // log(1 + u) for u >= 0; below 0.01 a series keeps the bits of u that 1 + u would round off.
  log1p: [
    `fn ew_log1p(u: T) -> T {
  let series = u * (T(1.0) - u * (T(0.5) - u * T(0.3333333333333333)));
  return select(log(T(1.0) + u), series, u < T(0.01));
}`,
    [],
  ],
  // |x| < 0.5: the Taylor series (relative error < 3e-8); beyond, Abramowitz and Stegun 7.1.26
  // (absolute error < 1.5e-7); +-1 at +-inf, NaN at NaN.
  erf: [
    `fn ew_erf(x: T) -> T {
  let x2 = x * x;
  let series = x * (T(1.1283791670955126) + x2 * (T(-0.37612638903183754) + x2 * (T(0.11283791670955126)
    + x2 * (T(-0.026866170645131252) + x2 * (T(0.005223977625442188) + x2 * T(-0.0008548327023450853))))));
  let t = T(1.0) / (T(1.0) + T(0.3275911) * abs(x));
  let p = t * (T(0.254829592) + t * (T(-0.284496736) + t * (T(1.421413741) + t * (T(-1.453152027)
    + t * T(1.061405429)))));
  let tail = T(1.0) - p * exp(-x2);
  return select(select(-tail, tail, x > T(0.0)), series, abs(x) < T(0.5));
}`,
    [],
  ],
  // 1 + tanh(u) as 2 / (1 + e) or 2e / (1 + e), e = exp(-2|u|): no cancellation where tanh is
  // near -1 (gelu's tanh form at negative x).
  onePlusTanh: [
    `fn ew_onePlusTanh(u: T) -> T {
  let e = exp(T(-2.0) * abs(u));
  return select(T(2.0) * e, T(2.0), u >= T(0.0)) / (T(1.0) + e);
}`,
    [],
  ],
  // d/dx of gelu's tanh form, PyTorch's formula with 1 - tanh^2 = 4e / (1 + e)^2 (as above).
  geluTanhGrad: [
    `fn ew_geluTanhGrad(x: T) -> T {
  let u = T(0.7978845608028654) * (x + T(0.044715) * (x * x * x));
  let e = exp(T(-2.0) * abs(u));
  let sech2 = T(4.0) * e / ((T(1.0) + e) * (T(1.0) + e));
  let right = T(0.5) * x * sech2 * (T(0.7978845608028654) * (T(1.0) + T(0.134145) * x * x));
  return T(0.5) * ew_onePlusTanh(u) + right;
}`,
    ['onePlusTanh'],
  ],
  // C's pow (what PyTorch's pow of two tensors calls): pow(x, 0) = pow(1, y) = pow(-1, +-inf) = 1
  // even with NaN; a finite negative x with a non-integer y is NaN; a negative x (or -0) with an
  // odd integer y gives a negative result (pow(-0, -1) = -inf). 0^y is set apart: lavapipe gave 0
  // for exp2(-1 * log2(0)) (the compiler fuses it into a pow).
  pow: [
    `fn ew_pow(x: T, y: T) -> T {
  let ax = abs(x);
  let mag = select(exp2(y * log2(ax)), select(T(0.0), ew_inflike(x), y < T(0.0)), ax == T(0.0));
  let odd = (floor(y) == y) & (fract(y * T(0.5)) == T(0.5));
  let negative = (x < T(0.0)) | ((x == T(0.0)) & (T(1.0) / x < T(0.0)));
  var r = select(mag, -mag, negative & odd);
  r = select(r, ew_nanlike(x), (x < T(0.0)) & (ax <= T(${MAX_F32})) & (floor(y) != y));
  return select(r, T(1.0), (y == T(0.0)) | (x == T(1.0)) | ((ax == T(1.0)) & (abs(y) > T(${MAX_F32}))));
}`,
    ['nanlike', 'inflike'],
  ],
};

/** The helper text of an elementwise kernel over element type T: the aliases and the ew_* functions `expr` calls. */
export function mathHelpers(T: 'f32' | 'vec4f', expr: string): string {
  const aliases = `alias T = ${T};`;
  const needed = new Set<string>();
  const visit = (name: string) => {
    const f = FUNCTIONS[name];
    if (!f) throw new Error(`elementwise: no WGSL function ew_${name} (expression ${expr}).`);
    if (needed.has(name)) return;
    f[1].forEach(visit);
    needed.add(name);
  };
  for (const m of expr.matchAll(/\bew_(\w+)\(/g)) visit(m[1]);
  if (needed.size === 0) return aliases;
  const vec = T === 'vec4f';
  const forms = `alias U = ${vec ? 'vec4u' : 'u32'};\nalias B = ${vec ? 'vec4<bool>' : 'bool'};`;
  return [aliases, forms, ...[...needed].map((n) => FUNCTIONS[n][0])].join('\n');
}
