// WGSL sources by file name and the composition of a kernel: generated constants and declarations, then
// include/common.wgsl, then prefixes (include fragments: a weights-*.wgsl format, the xquant store, ...), then
// the op. Kernels (entry points, one op each) are shaders/<op>.wgsl; fragments that only make sense inside a
// kernel are shaders/include/<name>.wgsl, keyed 'include/<name>' in the library. Constants are
// plain `const` declarations rather than override constants because WGSL only sizes function-scope
// arrays (attention's accumulator, linear's token tile) with const expressions.

/** Sources by path under shaders/ without `.wgsl`: 'linear' (a kernel), 'include/weights-q4' (a fragment). */
export type ShaderLibrary = Readonly<Record<string, string>>;

/** Where include fragments live under shaders/ (and their library keys' prefix). */
export const INCLUDE_DIR = 'include';

/** u32 for integers, bool for booleans, { f32 } for floats. */
export type ShaderConst = number | boolean | { f32: number };
export type ShaderConsts = Readonly<Record<string, ShaderConst>>;

export interface KernelSource {
  /** shaders/<op>.wgsl, a kernel */
  op: string;
  /** shaders/include/<name>.wgsl fragments inserted before the op, e.g. 'weights-q4' ('weights-q4@up': renamed for a second matrix). */
  prefixes?: readonly string[];
  consts: ShaderConsts;
  /** Generated WGSL declarations (per-layer tables) placed after the constants. */
  declarations?: readonly string[];
  /** Bytes of its var<workgroup> arrays, computed by the op builder from the same constants. */
  workgroupBytes?: number;
  /** WGSL extensions the kernel enables (`subgroups`); the device must have been created with them. */
  enables?: readonly string[];
}

function constLine(name: string, v: ShaderConst): string {
  if (typeof v === 'boolean') return `const ${name}: bool = ${v};`;
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new Error(`shader constant ${name} must be a u32, got ${v}`);
    return `const ${name}: u32 = ${v}u;`;
  }
  if (!Number.isFinite(v.f32)) throw new Error(`shader constant ${name} must be finite, got ${v.f32}`);
  return `const ${name}: f32 = ${v.f32.toExponential()};`;
}

/**
 * A weights fragment for a second matrix in the same kernel: `weights-q4@up` is weights-q4.wgsl with its
 * buffers, functions, word type and row sizes renamed `w_up`, `ws_up`, `w8_up`, `w_dot_up`, `WeightWord_up`,
 * `W_ROW_WORDS_up` (and every `w_` helper alike), so the two matrices may differ in format.
 */
function renamedWeights(text: string, suffix: string): string {
  return text.replace(/(?<!\.)\b(w8|w_\w+|i8x4|i4x4|ws|w|WeightWord|W_ROW_WORDS|W_SCALE_WORDS)\b/g, `$1_${suffix}`); // not swizzles (v.w)
}

export function composeKernel(lib: ShaderLibrary, k: KernelSource): string {
  const source = (key: string) => {
    const text = lib[key];
    if (text === undefined) throw new Error(`shaders/${key}.wgsl is not in the shader library`);
    return text;
  };
  const part = (spec: string) => {
    const [name, suffix] = spec.split('@');
    const text = source(`${INCLUDE_DIR}/${name}`);
    return suffix ? renamedWeights(text, suffix) : text;
  };
  const consts = Object.entries(k.consts).map(([n, v]) => constLine(n, v));
  // Enable directives must precede every declaration.
  const enables = (k.enables ?? []).map((e) => `enable ${e};`);
  return [...enables, ...consts, ...(k.declarations ?? []), part('common'), ...(k.prefixes ?? []).map(part), source(k.op)].join('\n');
}

/** Cache key of a kernel: op, prefix and constants. */
export function kernelKey(k: KernelSource): string {
  return `${k.op}|${(k.enables ?? []).join(',')}|${(k.prefixes ?? []).join(',')}|${JSON.stringify(k.consts)}|${(k.declarations ?? []).join('')}`;
}
