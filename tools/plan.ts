// npm run -s plan -- --model DIR|FILE.gguf --memory-budget-mb N --context T [--device-profile NAME|FILE.json]
//   [--weights q4|q8|f16|f32] [--accuracy-bound F] [--no-tiers] [--json]
// The cache plan for a model from its config alone (config.json, or a GGUF file's header; no weights are read):
// every configuration's bytes per token, longest context in the budget, estimated rebuild GFLOP and ms per
// decoded token on a device profile (stated data-sheet figures, or a JSON file of measured ones), its accuracy
// cost, whether another dominates it, and auto's pick.

import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { stepWeightBytes } from '../src/cache/cache-cost';
import { DEFAULT_PROFILE, parseDeviceProfile, STATED_PROFILES, type DeviceProfile } from '../src/engine/device-profile';
import { planCache } from '../src/engine/planner';
import { readGgufHeader } from '../src/model/gguf';
import { ggufConfig, isGgufFileName } from '../src/model/gguf-model';
import { parseModelConfig, type ModelSpec } from '../src/model/model-spec';
import { NodeFolderSource } from '../src/model/node-file-source';
import { parsePackFormat } from '../src/quant/weight-format';
import { budgetMb, parseArgs, runCli, UsageError } from './cli-args';

const USAGE =
  'npm run -s plan -- --model DIR|FILE.gguf --memory-budget-mb N --context T [--device-profile NAME|FILE.json] [--weights q4|q8|f16|f32] [--accuracy-bound F] [--no-tiers] [--json]';

async function readSpec(model: string): Promise<ModelSpec> {
  if (isGgufFileName(model)) {
    const header = await readGgufHeader(new NodeFolderSource(dirname(model)), basename(model));
    return parseModelConfig(JSON.stringify(ggufConfig(header)), model);
  }
  const file = join(model, 'config.json');
  return parseModelConfig(await readFile(file, 'utf8'), file);
}

async function readProfile(v: string | undefined): Promise<DeviceProfile> {
  if (v === undefined) return DEFAULT_PROFILE;
  if (STATED_PROFILES[v]) return STATED_PROFILES[v];
  if (!v.endsWith('.json')) throw new UsageError(`--device-profile: '${v}' is neither a profile (${Object.keys(STATED_PROFILES).join(', ')}) nor a .json file`);
  return parseDeviceProfile(await readFile(v, 'utf8'), v);
}

await runCli(USAGE, async () => {
  const a = parseArgs(process.argv.slice(2), {
    model: 'string',
    'memory-budget-mb': 'string',
    context: 'int',
    'device-profile': 'string',
    weights: 'string',
    'accuracy-bound': 'string',
    'no-tiers': 'bool',
    json: 'bool',
  });
  if (!a.model) throw new UsageError('--model is required');
  if (a.context === undefined) throw new UsageError('--context is required');
  const bound = a['accuracy-bound'] === undefined ? undefined : Number(a['accuracy-bound']);
  if (bound !== undefined && !(bound >= 0))
    throw new UsageError(`--accuracy-bound needs a relative perplexity cost >= 0 (0.01 = +1%), got '${a['accuracy-bound']}'`);
  const spec = await readSpec(a.model);
  const profile = await readProfile(a['device-profile']);
  const weights = parsePackFormat(a.weights ?? 'q4');
  const budget = budgetMb(a['memory-budget-mb']) * 2 ** 20;
  const weightBytes = stepWeightBytes(spec, weights);
  const plan = planCache(spec, budget, a.context, { profile, weightBytes, accuracyBound: bound, device: { tiers: !a['no-tiers'] } });
  if (a.json) {
    process.stdout.write(`${JSON.stringify({ model: a.model, weights, weightBytesPerStep: weightBytes, ...plan, profile })}\n`);
    return;
  }
  const lines = [
    `${a.model}: ${spec.numLayers} layers, d ${spec.hiddenSize}, ${spec.numHeads} heads / ${spec.numKvHeads} kv heads of ${spec.headDim}; weights ${weights} (${(weightBytes / 2 ** 20).toFixed(0)} MiB read per token)`,
    `budget ${budget / 2 ** 20} MiB, target ${a.context} tokens, device ${profile.name} (${profile.source}: ${profile.note})`,
    `accuracy: ${plan.accuracySource}`,
    '',
    '| mode | bytes/token | holds | rebuild GFLOP/token | ms/token | Δppl | dominated by |',
    '|---|---|---|---|---|---|---|',
    ...plan.modes.map(
      (m) =>
        `| ${m.mode === plan.auto ? `**${m.mode}**` : m.mode} | ${m.bytesPerToken} | ${m.maxContext}${m.fitsTarget ? '' : ' (short)'} | ${m.rebuildGflop.toFixed(1)} | ${m.msPerToken.toFixed(2)} | ${m.accuracyCost === null ? '–' : `+${(m.accuracyCost * 100).toFixed(2)}%`} | ${m.dominatedBy ?? ''} |`,
    ),
    '',
    `auto: ${plan.auto ?? 'none'} (${plan.autoReason})`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
});
