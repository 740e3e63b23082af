import { describe, expect, it } from 'vitest';
import { progressText } from './chat-widget';

describe('chat widget', () => {
  it('says how far a load is, in bytes for downloads and cache reads', () => {
    expect(progressText({ phase: 'download', loaded: 3 * 2 ** 20, total: 12 * 2 ** 20 })).toBe('Loading the model: downloading 3.0 of 12.0 MB (25%)');
    expect(progressText({ phase: 'download', loaded: 2 ** 19, total: null })).toBe('Loading the model: downloading 0.5 MB');
    expect(progressText({ phase: 'cache', loaded: 2 ** 20, total: 2 ** 20 })).toBe('Loading the model: reading the browser cache 1.0 of 1.0 MB (100%)');
    expect(progressText({ phase: 'compile', loaded: 1, total: 3 })).toBe('Loading the model: compiling shaders (1 of 3)');
  });
});
