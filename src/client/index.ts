/// <reference types="@webgpu/types" preserve="true" />
// The package entry: `createEngine()` starts the engine in a module Worker bundled beside this file.

import { createEngineWith, type EngineOptions, type XQuantEngine } from './create-engine';

export function createEngine(options: EngineOptions = {}): XQuantEngine {
  return createEngineWith(() => new Worker(new URL('../worker/engine-worker.ts', import.meta.url), { type: 'module', name: 'xquant-engine' }), options);
}

export type { EngineOptions, LoadOptions, XQuantEngine } from './create-engine';
export type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
  ChatTokenLogprob,
  Completion,
  CompletionChunk,
  CompletionLogprobs,
  CompletionRequest,
  ResponseFormat,
  ToolChoice,
  Usage,
} from '../engine/openai';
export type { ChatMessage, ToolCall, ToolDefinition } from '../tokenizer/tokenizer';
export type { MemoryInfo } from '../engine/engine';
export type { DeviceProfile } from '../engine/device-profile';
export type { CachePlan, ModePlan } from '../engine/planner';
export { listModels, type ListedModel, type ListOptions } from '../engine/model-list';
export type { ModelRef } from '../model/model-ref';
export type { LoadProgress, StorageReport } from '../storage/model-loader';
export type { CachedModelInfo } from '../storage/weight-cache';
export type { SavedConversationInfo } from '../storage/conversation-cache';
export type { LoadResult } from '../worker/engine-host';
export * from '../errors';
