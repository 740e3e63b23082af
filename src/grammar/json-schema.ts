// JSON schemas (and "any JSON object", OpenAI's json_object mode) as grammar rules whose sentences are the
// JSON texts valid under the schema. Supported keywords (docs/api.md lists them with their limits):
//   type (one or a list), enum, const, anyOf, oneOf (alternatives: oneOf's exclusivity is the schema's to
//   keep), $ref to "#", "#/$defs/..." or "#/definitions/..." (recursion allowed);
//   object: properties (written in the schema's order, each optional one may be left out), required,
//   additionalProperties (no other property is written, which every value of it allows);
//   array: items, minItems, maxItems;
//   string: minLength, maxLength, pattern (regex.ts's subset; not with min/maxLength), format date, time,
//   date-time, uuid;
//   integer: minimum, maximum, exclusiveMinimum, exclusiveMaximum; number: the same, integer-valued.
// Annotations (title, description, default, examples, ...) are ignored; any other keyword is an
// UnsupportedFieldError naming it. Whitespace is bounded: after a structural character, one space or a
// newline and up to 20 spaces or tabs, so a model cannot pad forever. Numbers have at most 15 integer and
// 15 fraction digits.

import { GrammarError, UnsupportedFieldError } from '../errors';
import { alt, chars, type Expr, lit, opt, ref, rep, type RuleSet, seq } from './grammar';
import { parseRegex } from './regex';

const ANNOTATIONS = new Set(['title', 'description', 'default', 'examples', '$schema', '$id', '$comment', 'deprecated', 'readOnly', 'writeOnly']);
const KEYWORDS = new Set([
  'type',
  'enum',
  'const',
  'anyOf',
  'oneOf',
  '$ref',
  '$defs',
  'definitions',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'minItems',
  'maxItems',
  'minLength',
  'maxLength',
  'pattern',
  'format',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
]);
const MAX_DIGITS = 15;
/** Largest minLength / maxLength / minItems / maxItems written out (bounded repetition expands to copies). */
const MAX_COUNT = 10_000;
const DIGIT = chars('0-9');

type Schema = Record<string, unknown>;

/** Rules shared by every JSON grammar: whitespace, strings, numbers and any value. */
function baseRules(rules: RuleSet): void {
  rules.set('ws', opt(alt(lit(' '), seq(lit('\n'), rep(chars(' \t'), 0, 20)))));
  const hex = chars('0-9a-fA-F');
  rules.set('char', alt(chars('"\\\u0000-\u001f', true), seq(lit('\\'), alt(chars('"\\/bfnrt'), seq(lit('u'), rep(hex, 4, 4))))));
  rules.set('string', seq(lit('"'), rep(ref('char'), 0), lit('"')));
  const int = alt(lit('0'), seq(chars('1-9'), rep(DIGIT, 0, MAX_DIGITS - 1)));
  rules.set('integer', seq(opt(lit('-')), int));
  rules.set('number', seq(opt(lit('-')), int, opt(seq(lit('.'), rep(DIGIT, 1, MAX_DIGITS))), opt(seq(chars('eE'), opt(chars('+\\-')), rep(DIGIT, 1, 2)))));
  const ws = ref('ws');
  const member = seq(ref('string'), ws, lit(':'), ws, ref('value'));
  rules.set('object', seq(lit('{'), ws, opt(seq(member, rep(seq(ws, lit(','), ws, member), 0))), ws, lit('}')));
  rules.set('array', seq(lit('['), ws, opt(seq(ref('value'), rep(seq(ws, lit(','), ws, ref('value')), 0))), ws, lit(']')));
  rules.set('value', alt(ref('object'), ref('array'), ref('string'), ref('number'), lit('true'), lit('false'), lit('null')));
}

/** OpenAI's json_object mode: any JSON object. */
export function jsonObjectRules(): RuleSet {
  const rules: RuleSet = new Map();
  baseRules(rules);
  rules.set('root', ref('object'));
  return rules;
}

export function jsonSchemaRules(schema: unknown, field = 'response_format.json_schema.schema'): RuleSet {
  const rules: RuleSet = new Map();
  baseRules(rules);
  if (!isObject(schema) && typeof schema !== 'boolean') throw new GrammarError('a JSON schema must be an object', { field });
  const c = new SchemaCompiler(schema as Schema, rules, '');
  rules.set('root', c.visit(schema, field));
  return rules;
}

/** A function call as a chat template teaches it: the wrapping text, and the key its arguments go under. */
export interface ToolCallShape {
  /** Text before and after each call's JSON (Qwen: "<tool_call>\n" and "\n</tool_call>"). */
  open: string;
  close: string;
  /** Between calls, when several are allowed. */
  separator: string;
  argsKey: string;
  /** Text around the whole list of calls (Phi-4-mini: a JSON array). */
  around?: readonly [string, string];
}

/**
 * Replies that are only function calls: `{"name": NAME, ARGS_KEY: ARGUMENTS}` per call, for one of `tools`, its
 * arguments valid under that tool's parameters schema; one call, or several when `parallel`.
 */
export function toolCallRules(tools: readonly { name: string; parameters?: unknown }[], shape: ToolCallShape, parallel: boolean): RuleSet {
  const rules: RuleSet = new Map();
  baseRules(rules);
  const ws = ref('ws');
  const calls = tools.map((t, i) => {
    const params = t.parameters ?? { type: 'object' };
    const args = new SchemaCompiler(isObject(params) ? params : {}, rules, `t${i}-`).visit(params, `tools[${i}].function.parameters`);
    return seq(
      lit('{"name"'),
      ws,
      lit(':'),
      ws,
      lit(JSON.stringify(t.name)),
      ws,
      lit(','),
      ws,
      lit(JSON.stringify(shape.argsKey)),
      ws,
      lit(':'),
      ws,
      args,
      ws,
      lit('}'),
    );
  });
  rules.set('call', seq(lit(shape.open), alt(...calls), lit(shape.close)));
  const list = parallel ? seq(ref('call'), rep(seq(lit(shape.separator), ref('call')), 0)) : ref('call');
  rules.set('root', shape.around ? seq(lit(shape.around[0]), list, lit(shape.around[1])) : list);
  return rules;
}

/** The JSON Schema types a value has (an integral number is both integer and number). */
function jsonTypes(v: unknown): string[] {
  if (v === null) return ['null'];
  if (Array.isArray(v)) return ['array'];
  if (typeof v === 'number') return Number.isInteger(v) ? ['integer', 'number'] : ['number'];
  return [typeof v];
}

function isObject(x: unknown): x is Schema {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

class SchemaCompiler {
  private count = 0;
  private readonly refs = new Map<string, string>();

  /** `names`: a prefix for this compiler's rule names, so several schemas can share one rule set. */
  constructor(
    private readonly root: Schema,
    private readonly rules: RuleSet,
    private readonly names: string,
  ) {}

  private rule(prefix: string, e: Expr): Expr {
    const name = `${this.names}${prefix}-${this.count++}`;
    this.rules.set(name, e);
    return ref(name);
  }

  visit(s: unknown, path: string): Expr {
    if (s === true) return ref('value');
    if (s === false) throw new GrammarError('the schema false allows no value', { field: path });
    if (!isObject(s)) throw new GrammarError('a schema must be an object or a boolean', { field: path, got: JSON.stringify(s) });
    for (const k of Object.keys(s)) {
      if (!KEYWORDS.has(k) && !ANNOTATIONS.has(k)) throw new UnsupportedFieldError(`the JSON schema keyword ${k} is not supported`, { field: `${path}.${k}` });
    }
    // A keyword that decides the value alone ($ref, const, enum, anyOf, oneOf) takes no constraining sibling (only `type`
    // beside const and enum, whose values must then have it): a sibling would otherwise be silently dropped.
    const constraining = Object.keys(s).filter((k) => !ANNOTATIONS.has(k) && k !== '$defs' && k !== 'definitions');
    const deciding = constraining.filter((k) => ['$ref', 'const', 'enum', 'anyOf', 'oneOf'].includes(k));
    if (deciding.length > 0) {
      const others = constraining.filter((k) => k !== deciding[0] && !(k === 'type' && (deciding[0] === 'const' || deciding[0] === 'enum')));
      if (others.length > 0) {
        throw new UnsupportedFieldError(`${others[0]} beside ${deciding[0]} is not supported (put it inside each alternative)`, {
          field: `${path}.${others[0]}`,
        });
      }
    }
    if (typeof s.$ref === 'string') return this.reference(s.$ref, `${path}.$ref`);
    const values = 'const' in s ? [s.const] : Array.isArray(s.enum) ? s.enum : null;
    if (values) {
      const allowed = s.type === undefined ? values : values.filter((v) => jsonTypes(v).some((t) => (Array.isArray(s.type) ? s.type : [s.type]).includes(t)));
      if (allowed.length === 0) throw new GrammarError('no value of the enum or const has the type', { field: path });
      return alt(...allowed.map((v) => lit(JSON.stringify(v))));
    }
    for (const k of ['anyOf', 'oneOf'] as const) {
      const list = s[k];
      if (list !== undefined) {
        if (!Array.isArray(list) || list.length === 0) throw new GrammarError('must be a non-empty list of schemas', { field: `${path}.${k}` });
        return alt(...list.map((sub, i) => this.visit(sub, `${path}.${k}[${i}]`)));
      }
    }
    const type = s.type;
    if (Array.isArray(type)) return alt(...type.map((t) => this.typed(s, t, path)));
    if (type !== undefined) return this.typed(s, type, path);
    if (s.properties !== undefined) return this.typed(s, 'object', path);
    if (s.items !== undefined) return this.typed(s, 'array', path);
    return ref('value');
  }

  private typed(s: Schema, type: unknown, path: string): Expr {
    switch (type) {
      case 'string':
        return this.string(s, path);
      case 'integer':
      case 'number':
        if (s.format !== undefined) throw new UnsupportedFieldError(`format ${String(s.format)} on a ${type} is not supported`, { field: `${path}.format` });
        return this.number(s, type === 'integer', path);
      case 'boolean':
        return alt(lit('true'), lit('false'));
      case 'null':
        return lit('null');
      case 'object':
        return this.object(s, path);
      case 'array':
        return this.array(s, path);
      default:
        throw new GrammarError('unknown type', {
          field: `${path}.type`,
          expected: 'string, number, integer, boolean, null, object or array',
          got: String(type),
        });
    }
  }

  private reference(target: string, path: string): Expr {
    let name = this.refs.get(target);
    if (!name) {
      const m = /^#(?:\/(\$defs|definitions)\/(.+))?$/.exec(target);
      const sub = m ? (m[1] ? (this.root[m[1]] as Record<string, unknown> | undefined)?.[m[2].replace(/~1/g, '/').replace(/~0/g, '~')] : this.root) : undefined;
      if (sub === undefined)
        throw new GrammarError('$ref does not resolve', { field: path, expected: '"#", "#/$defs/NAME" or "#/definitions/NAME"', got: target });
      name = `${this.names}ref-${this.count++}`;
      this.refs.set(target, name);
      this.rules.set(name, lit('')); // placeholder while the target is compiled (it may refer back)
      this.rules.set(name, this.visit(sub, target));
    }
    return ref(name);
  }

  private count_(s: Schema, k: string, path: string): number | undefined {
    const v = s[k];
    if (v === undefined) return undefined;
    if (!(Number.isInteger(v) && (v as number) >= 0)) throw new GrammarError('must be an integer >= 0', { field: `${path}.${k}`, got: JSON.stringify(v) });
    if ((v as number) > MAX_COUNT) throw new UnsupportedFieldError(`${k} beyond ${MAX_COUNT} is not supported`, { field: `${path}.${k}`, got: String(v) });
    return v as number;
  }

  private string(s: Schema, path: string): Expr {
    const min = this.count_(s, 'minLength', path) ?? 0;
    const max = this.count_(s, 'maxLength', path) ?? Number.POSITIVE_INFINITY;
    if (max < min) throw new GrammarError('maxLength is below minLength', { field: `${path}.maxLength` });
    const char = ref('char');
    const quote = lit('"');
    if (s.format !== undefined) {
      for (const k of ['pattern', 'minLength', 'maxLength'])
        if (s[k] !== undefined) throw new UnsupportedFieldError(`${k} together with format is not supported`, { field: `${path}.${k}` });
      const f = FORMATS[s.format as string];
      if (!f)
        throw new UnsupportedFieldError(`string format ${String(s.format)} is not supported`, {
          field: `${path}.format`,
          expected: Object.keys(FORMATS).join(', '),
        });
      return this.rule('format', seq(quote, parseRegex(f).expr, quote));
    }
    if (typeof s.pattern === 'string') {
      if (s.minLength !== undefined || s.maxLength !== undefined) {
        throw new UnsupportedFieldError('pattern together with minLength or maxLength is not supported', { field: `${path}.pattern` });
      }
      const r = parseRegex(s.pattern, { json: true, field: `${path}.pattern` });
      const any = rep(char, 0);
      return this.rule('pattern', seq(quote, ...(r.anchoredStart ? [] : [any]), r.expr, ...(r.anchoredEnd ? [] : [any]), quote));
    }
    if (min === 0 && max === Number.POSITIVE_INFINITY) return ref('string');
    return this.rule('string', seq(quote, rep(char, min, max), quote));
  }

  private number(s: Schema, integer: boolean, path: string): Expr {
    const bound = (k: string): number | undefined => {
      const v = s[k];
      if (v === undefined) return undefined;
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new GrammarError('must be a number', { field: `${path}.${k}`, got: JSON.stringify(v) });
      if (!integer && !Number.isInteger(v))
        throw new UnsupportedFieldError(`a ${k} with a fraction on a number is not supported (integer-valued bounds are)`, { field: `${path}.${k}` });
      if (Math.abs(v) >= 10 ** MAX_DIGITS) throw new UnsupportedFieldError(`a ${k} beyond ${MAX_DIGITS} digits is not supported`, { field: `${path}.${k}` });
      return v;
    };
    const [min, max, xmin, xmax] = [bound('minimum'), bound('maximum'), bound('exclusiveMinimum'), bound('exclusiveMaximum')];
    if (min === undefined && max === undefined && xmin === undefined && xmax === undefined) return ref(integer ? 'integer' : 'number');
    const cap = 10 ** MAX_DIGITS - 1;
    if (integer) {
      const lo = Math.max(min !== undefined ? Math.ceil(min) : -cap, xmin !== undefined ? Math.floor(xmin) + 1 : -cap);
      const hi = Math.min(max !== undefined ? Math.floor(max) : cap, xmax !== undefined ? Math.ceil(xmax) - 1 : cap);
      if (lo > hi) throw new GrammarError('the bounds allow no integer', { field: path });
      return this.rule('integer', integerRange(lo, hi));
    }
    // The tighter of each pair; exclusive when the exclusive bound is the tighter one.
    let lo = -cap;
    let loX = false;
    if (min !== undefined) lo = min;
    if (xmin !== undefined && (xmin >= lo || min === undefined)) [lo, loX] = [xmin, true];
    let hi = cap;
    let hiX = false;
    if (max !== undefined) hi = max;
    if (xmax !== undefined && (xmax <= hi || max === undefined)) [hi, hiX] = [xmax, true];
    if (lo > hi || (lo === hi && (loX || hiX))) throw new GrammarError('the bounds allow no number', { field: path });
    const parts: Expr[] = [];
    if (hi >= 0 && !(hi === 0 && hiX)) parts.push(magnitude(Math.max(lo, 0), hi, lo >= 0 ? loX : false, hiX));
    if (lo < 0) {
      const m = magnitude(Math.max(-hi, 0), -lo, hi <= 0 ? hiX || hi === 0 : true, loX);
      parts.push(seq(lit('-'), m));
    }
    return this.rule('number', alt(...parts));
  }

  private array(s: Schema, path: string): Expr {
    const min = this.count_(s, 'minItems', path) ?? 0;
    const max = this.count_(s, 'maxItems', path) ?? Number.POSITIVE_INFINITY;
    if (max < min) throw new GrammarError('maxItems is below minItems', { field: `${path}.maxItems` });
    const ws = ref('ws');
    const item = s.items === undefined ? ref('value') : this.rule('item', this.visit(s.items, `${path}.items`));
    if (max === 0) return seq(lit('['), ws, lit(']'));
    const items = seq(item, rep(seq(ws, lit(','), ws, item), Math.max(0, min - 1), max - 1));
    return this.rule('array', seq(lit('['), ws, min > 0 ? items : opt(items), ws, lit(']')));
  }

  private object(s: Schema, path: string): Expr {
    const props = s.properties ?? {};
    if (!isObject(props)) throw new GrammarError('must be an object of schemas', { field: `${path}.properties` });
    const required = s.required ?? [];
    if (!Array.isArray(required) || required.some((r) => typeof r !== 'string'))
      throw new GrammarError('must be a list of names', { field: `${path}.required` });
    for (const r of required)
      if (!(r in props)) throw new UnsupportedFieldError(`required property ${r} has no schema in properties`, { field: `${path}.required` });
    const ap = s.additionalProperties;
    if (ap !== undefined && typeof ap !== 'boolean' && !isObject(ap))
      throw new GrammarError('must be a boolean or a schema', { field: `${path}.additionalProperties` });
    const ws = ref('ws');
    const names = Object.keys(props);
    if (names.length === 0 && s.properties === undefined) {
      // No declared properties: any object, an empty one (additionalProperties false), or a map of one value schema.
      if (ap === false) return seq(lit('{'), ws, lit('}'));
      if (!isObject(ap)) return ref('object');
      const member = seq(ref('string'), ws, lit(':'), ws, this.rule('value', this.visit(ap, `${path}.additionalProperties`)));
      return this.rule('map', seq(lit('{'), ws, opt(seq(member, rep(seq(ws, lit(','), ws, member), 0))), ws, lit('}')));
    }
    const members = names.map((n) => seq(lit(JSON.stringify(n)), ws, lit(':'), ws, this.visit(props[n], `${path}.properties.${n}`)));
    // first[i]: members i.. when none was written yet; rest[i]: the same after one was (each takes a comma).
    const base = `${this.names}obj-${this.count++}`;
    for (let i = names.length; i >= 0; i--) {
      const first = `${base}-f${i}`;
      const rest = `${base}-r${i}`;
      if (i === names.length) {
        this.rules.set(first, lit(''));
        this.rules.set(rest, lit(''));
        continue;
      }
      const take = seq(members[i], ref(`${base}-r${i + 1}`));
      const takeAfter = seq(ws, lit(','), ws, members[i], ref(`${base}-r${i + 1}`));
      const req = required.includes(names[i]);
      this.rules.set(first, req ? take : alt(take, ref(`${base}-f${i + 1}`)));
      this.rules.set(rest, req ? takeAfter : alt(takeAfter, ref(`${base}-r${i + 1}`)));
    }
    return seq(lit('{'), ws, ref(`${base}-f0`), ws, lit('}'));
  }
}

/** RFC 3339 formats as ajv-formats checks them (time always with a zone). */
const FORMATS: Record<string, string> = {
  date: '[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])',
  time: '([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,6})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])',
  'date-time': '[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,6})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])',
  uuid: '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}',
};

/** Decimal integers lo..hi, written canonically (no leading zeros, no "-0"). */
export function integerRange(lo: number, hi: number): Expr {
  const parts: Expr[] = [];
  if (lo < 0) parts.push(seq(lit('-'), naturalRange(Math.max(1, -hi), -lo)));
  if (hi >= 0) parts.push(naturalRange(Math.max(0, lo), hi));
  return parts.length === 1 ? parts[0] : alt(...parts);
}

/** a..b, 0 <= a <= b: one fixed-width range per digit count. */
function naturalRange(a: number, b: number): Expr {
  const parts: Expr[] = [];
  for (let n = String(a).length; n <= String(b).length; n++) {
    const lo = n === String(a).length ? a : 10 ** (n - 1);
    const hi = n === String(b).length ? b : 10 ** n - 1;
    parts.push(fixedWidth(String(lo), String(hi)));
  }
  return parts.length === 1 ? parts[0] : alt(...parts);
}

/** Digit strings of one width from a to b (a <= b, same length). */
function fixedWidth(a: string, b: string): Expr {
  if (a.length === 1) return chars(`${a}-${b}`);
  if (a[0] === b[0]) return seq(lit(a[0]), fixedWidth(a.slice(1), b.slice(1)));
  const rest = a.length - 1;
  if (/^0*$/.test(a.slice(1)) && /^9*$/.test(b.slice(1))) return seq(chars(`${a[0]}-${b[0]}`), rep(DIGIT, rest, rest));
  const parts: Expr[] = [seq(lit(a[0]), fixedWidth(a.slice(1), '9'.repeat(rest)))];
  const [d0, d1] = [Number(a[0]) + 1, Number(b[0]) - 1];
  if (d0 <= d1) parts.push(seq(chars(`${d0}-${d1}`), rep(DIGIT, rest, rest)));
  parts.push(seq(lit(b[0]), fixedWidth('0'.repeat(rest), b.slice(1))));
  return alt(...parts);
}

/** Decimal magnitudes in [a, b] (integers, 0 <= a <= b), each end exclusive when its flag says so. */
function magnitude(a: number, b: number, aX: boolean, bX: boolean): Expr {
  const frac = opt(seq(lit('.'), rep(DIGIT, 1, MAX_DIGITS)));
  const nonzeroFrac = seq(lit('.'), rep(DIGIT, 0, MAX_DIGITS - 1), chars('1-9'));
  const zeroFrac = opt(seq(lit('.'), rep(lit('0'), 1, MAX_DIGITS)));
  const parts: Expr[] = [];
  const from = aX ? a + 1 : a;
  if (from <= b - 1) parts.push(seq(integerRange(from, b - 1), frac));
  if (aX && a < b) parts.push(seq(lit(String(a)), nonzeroFrac));
  if (!bX && !(aX && a === b)) parts.push(seq(lit(String(b)), zeroFrac));
  if (parts.length === 0) throw new GrammarError('the bounds allow no number', { field: 'response_format' });
  return parts.length === 1 ? parts[0] : alt(...parts);
}
