// Which family of kernels suits an adapter. `rowwise` kernels are shaped for WebGPU emulated on a CPU
// (SwiftShader, llvmpipe/lavapipe, any fallback adapter): one output row per invocation, register tiles,
// few workgroups. `tiled` kernels are shaped for real GPUs: adjacent invocations read adjacent weight
// words (coalesced), a workgroup cooperates on a few rows and reduces in workgroup memory, and there are
// enough workgroups to fill the machine. Both compute the same sums (tested against the reference).

import { InvalidArgumentError } from '../errors';

export type KernelFamily = 'rowwise' | 'tiled';
export type KernelChoice = KernelFamily | 'auto';
export const KERNEL_CHOICES: readonly KernelChoice[] = ['auto', 'rowwise', 'tiled'];

/** What the choice depends on: GPUAdapterInfo's strings and the adapter's fallback flag. */
export interface AdapterFacts {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
}

/** Software rasterizers that expose WebGPU on a CPU. */
const CPU_EMULATORS = /swiftshader|llvmpipe|lavapipe|softpipe|warp|microsoft basic render/i;

export function parseKernelChoice(name: string): KernelChoice {
  if ((KERNEL_CHOICES as readonly string[]).includes(name)) return name as KernelChoice;
  throw new InvalidArgumentError('unknown kernel family', { field: 'kernels', expected: KERNEL_CHOICES.join(', '), got: name });
}

export function selectKernelFamily(choice: KernelChoice, adapter: AdapterFacts): KernelFamily {
  if (choice !== 'auto') return choice;
  if (adapter.isFallbackAdapter) return 'rowwise';
  const text = [adapter.vendor, adapter.architecture, adapter.device, adapter.description].join(' ');
  return CPU_EMULATORS.test(text) ? 'rowwise' : 'tiled';
}
