// The shader library in a Vite build (browser, Worker): every shaders/*.wgsl and shaders/include/*.wgsl inlined as text.

import type { ShaderLibrary } from './shader-library';

const files = import.meta.glob(['../../shaders/*.wgsl', '../../shaders/include/*.wgsl'], { query: '?raw', import: 'default', eager: true }) as Record<
  string,
  string
>;

export const BUNDLED_SHADERS: ShaderLibrary = Object.fromEntries(
  Object.entries(files).map(([path, text]) => [path.slice('../../shaders/'.length, -'.wgsl'.length), text]),
);
