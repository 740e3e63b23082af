// What a request constrains its output to, compiled against a model's vocabulary once and cached: the
// grammar (from a JSON schema, "any JSON object", GBNF or a regex), its matcher, and the per-frame token
// masks every later generation with the same constraint reuses.

import { GrammarError } from '../errors';
import { compileGrammar, type RuleSet } from './grammar';
import { parseGbnf } from './gbnf';
import { jsonObjectRules, jsonSchemaRules, type ToolCallShape, toolCallRules } from './json-schema';
import { GrammarMatcher } from './matcher';
import { parseRegex } from './regex';
import { ConstraintState, GrammarIndex, Vocabulary } from './token-mask';

export type ConstraintSpec =
  | { type: 'json_object' }
  | { type: 'json_schema'; schema: unknown }
  /** GBNF text (gbnf.ts). */
  | { type: 'grammar'; grammar: string }
  /** The whole output matches this regular expression (regex.ts's subset). */
  | { type: 'regex'; regex: string }
  /** Only function calls, in a chat template's format, their arguments valid under each tool's parameters. */
  | { type: 'tool_calls'; tools: { name: string; parameters?: unknown }[]; shape: ToolCallShape; parallel: boolean };

export function constraintRules(spec: ConstraintSpec): RuleSet {
  switch (spec.type) {
    case 'json_object':
      return jsonObjectRules();
    case 'json_schema':
      return jsonSchemaRules(spec.schema);
    case 'grammar':
      return parseGbnf(spec.grammar, 'response_format.grammar');
    case 'regex':
      return new Map([['root', parseRegex(spec.regex, { field: 'response_format.regex' }).expr]]);
    case 'tool_calls':
      return toolCallRules(spec.tools, spec.shape, spec.parallel);
    default:
      throw new GrammarError('unknown constraint type', { field: 'response_format.type', got: String((spec as { type: unknown }).type) });
  }
}

/** Code points of each token's text (null where the token never takes part). */
export function vocabularyFromTexts(texts: readonly (string | null)[], size: number, endIds: readonly number[] = []): Vocabulary {
  return new Vocabulary(
    texts.map((t, id) => (t === null || endIds.includes(id) ? null : Int32Array.from([...t].map((c) => c.codePointAt(0)!)))),
    size,
  );
}

const MAX_CACHED = 16;

/** Compiled constraints for one vocabulary, most recently used last. */
export class ConstraintCache {
  private readonly compiled = new Map<string, GrammarIndex>();

  constructor(
    readonly vocab: Vocabulary,
    readonly endIds: readonly number[],
  ) {
    // End-of-sequence tokens end a reply: never text inside it, even where a tokenizer gives them some.
    for (const id of endIds)
      if (id < vocab.size && vocab.pieces[id] !== null)
        throw new GrammarError('end-of-sequence tokens must have no text in the vocabulary', { field: 'vocabulary', got: `token ${id}` });
  }

  /** The compiled constraint (compiled now if new). */
  index(spec: ConstraintSpec): GrammarIndex {
    const key = JSON.stringify(spec);
    let index = this.compiled.get(key);
    if (index) this.compiled.delete(key);
    else index = new GrammarIndex(new GrammarMatcher(compileGrammar(constraintRules(spec))), this.vocab, this.endIds);
    this.compiled.set(key, index);
    if (this.compiled.size > MAX_CACHED) this.compiled.delete(this.compiled.keys().next().value!);
    return index;
  }

  /** A fresh generation under `spec`; its first mask is computed here, so a vocabulary that cannot start it fails before any decoding. */
  start(spec: ConstraintSpec): ConstraintState {
    const state = new ConstraintState(this.index(spec));
    state.mask();
    return state;
  }
}
