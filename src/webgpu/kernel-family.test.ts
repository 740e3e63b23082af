import { describe, expect, it } from 'vitest';
import { parseKernelChoice, selectKernelFamily, type AdapterFacts } from './kernel-family';

const adapter = (o: Partial<AdapterFacts>): AdapterFacts => ({ vendor: '', architecture: '', device: '', description: '', isFallbackAdapter: false, ...o });

describe('kernel family per adapter', () => {
  it('CPU emulations and fallback adapters get the rowwise kernels', () => {
    for (const a of [
      adapter({ vendor: 'google', architecture: 'swiftshader', description: 'SwiftShader Device (Subzero)' }),
      adapter({ vendor: 'mesa', architecture: '', description: 'llvmpipe (LLVM 19.1.7, 256 bits)' }),
      adapter({ description: 'Microsoft Basic Render Driver' }),
      adapter({ vendor: 'nvidia', architecture: 'ampere', isFallbackAdapter: true }),
    ]) {
      expect(selectKernelFamily('auto', a), JSON.stringify(a)).toBe('rowwise');
    }
  });

  it('real GPUs get the tiled kernels', () => {
    for (const a of [
      adapter({ vendor: 'apple', architecture: 'metal-3' }),
      adapter({ vendor: 'intel', architecture: 'gen-12lp' }),
      adapter({ vendor: 'nvidia', architecture: 'ampere', description: 'NVIDIA GeForce RTX 3060' }),
      adapter({ vendor: 'amd', architecture: 'rdna-3' }),
      adapter({}), // a browser that hides adapter details: assume a real GPU
    ]) {
      expect(selectKernelFamily('auto', a), JSON.stringify(a)).toBe('tiled');
    }
  });

  it('an explicit choice wins; a bad name is a typed error', () => {
    expect(selectKernelFamily('tiled', adapter({ architecture: 'swiftshader' }))).toBe('tiled');
    expect(selectKernelFamily('rowwise', adapter({ vendor: 'apple' }))).toBe('rowwise');
    expect(() => parseKernelChoice('fast')).toThrow(/kernels: unknown kernel family; expected auto, rowwise, tiled; got fast/);
  });
});
