// The WebGPU entry point for Node (tests, CLIs, bench): dawn.node from the `webgpu` package.
// Never imported by browser code.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { create, globals } from 'webgpu';
import { INCLUDE_DIR, type ShaderLibrary } from './shader-library';

/** Debian's chromium ships SwiftShader's Vulkan driver; used when the caller picked no ICD. */
const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/** How workgroup memory gets zeroed: Tint's loop in the shader or the Vulkan extension. */
export type WorkgroupZeroing = 'loop' | 'extension';

/**
 * The loop, unless XQUANT_WORKGROUP_ZEROING says otherwise: it compiles far faster on SwiftShader and runs
 * faster on lavapipe too (its dispatch-count and sampler tests: 9.3 s with the loop, 34 s with the extension).
 */
function defaultZeroing(): WorkgroupZeroing {
  const forced = process.env.XQUANT_WORKGROUP_ZEROING;
  return forced === 'extension' ? 'extension' : 'loop';
}

const instances = new Map<WorkgroupZeroing, GPU>();

/**
 * One GPU instance per process (per zeroing choice). dawn.node tears its native instance down when the JS
 * object is garbage-collected, even while devices made from it are still in use; that showed up here as
 * SIGSEGV, "futex facility returned an unexpected error code" or std::system_error aborts in the
 * middle of a dispatch. Holding the object in module scope keeps it alive.
 *
 * SwiftShader implements the Vulkan extension that zeroes workgroup memory with code whose compile time
 * grows with the memory's size (4 s for a kernel with a 32 KiB tile, 3.4 s for an empty 32 KiB array);
 * with 'loop' Dawn leaves the extension unused and Tint zeroes the memory with a loop in the shader (same
 * semantics), which compiles in milliseconds. `npm run bench -- --section compile` measures both.
 * XQUANT_WORKGROUP_ZEROING=extension selects the extension for a whole process.
 */
export function nodeGpu(zeroing: WorkgroupZeroing = defaultZeroing()): GPU {
  let instance = instances.get(zeroing);
  if (instance) return instance;
  if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD)) process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  if (!process.env.XDG_RUNTIME_DIR) process.env.XDG_RUNTIME_DIR = '/tmp';
  Object.assign(globalThis, globals);
  const toggle = 'use_vulkan_zero_initialize_workgroup_memory_extension';
  instance = create([zeroing === 'loop' ? `disable-dawn-features=${toggle}` : `enable-dawn-features=${toggle}`]);
  instances.set(zeroing, instance);
  return instance;
}

/** shaders/*.wgsl and shaders/include/*.wgsl read from the source tree (Vite inlines them in browser builds instead). */
export function nodeShaders(): ShaderLibrary {
  const read = (sub: string) => {
    const dir = new URL(`../../shaders/${sub}`, import.meta.url);
    const names = readdirSync(dir).filter((f) => f.endsWith('.wgsl'));
    return names.map((f) => [sub + f.slice(0, -'.wgsl'.length), readFileSync(new URL(f, dir), 'utf8')] as const);
  };
  return Object.fromEntries([...read(''), ...read(`${INCLUDE_DIR}/`)]);
}
