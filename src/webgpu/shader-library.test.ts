import { describe, expect, it } from 'vitest';
import { nodeShaders } from './node-gpu';
import { composeKernel, INCLUDE_DIR } from './shader-library';

describe('shader library', () => {
  const lib = nodeShaders();
  const kernels = Object.keys(lib).filter((k) => !k.startsWith(`${INCLUDE_DIR}/`));
  const includes = Object.keys(lib).filter((k) => k.startsWith(`${INCLUDE_DIR}/`));

  it('keeps kernels (one @compute entry point each) apart from include fragments (none)', () => {
    expect(kernels.length).toBeGreaterThan(20);
    expect(includes).toContain('include/common');
    for (const k of kernels) expect(lib[k].match(/@compute/g)?.length, k).toBe(1);
    for (const k of includes) expect(lib[k], k).not.toMatch(/@compute/);
  });

  it('composes constants, common, the prefixes from include/, then the op', () => {
    const code = composeKernel(lib, { op: 'rmsnorm', prefixes: ['weights-f32'], consts: { D: 8 } });
    expect(code.indexOf('const D: u32 = 8u;')).toBeLessThan(code.indexOf(lib['include/common']));
    expect(code.indexOf(lib['include/weights-f32'])).toBeLessThan(code.indexOf(lib.rmsnorm));
  });

  it('refuses a fragment as a kernel and a kernel as a fragment, naming the file it looked for', () => {
    expect(() => composeKernel(lib, { op: 'common', consts: {} })).toThrow('shaders/common.wgsl is not in the shader library');
    expect(() => composeKernel(lib, { op: 'rmsnorm', prefixes: ['linear'], consts: {} })).toThrow('shaders/include/linear.wgsl is not in the shader library');
  });
});
