import { describe, expect, it } from 'vitest';
import { GrammarError, UnsupportedFieldError } from '../errors';
import { seededRandom } from '../engine/sampling';
import { compileGrammar, type RuleSet } from './grammar';
import { parseGbnf } from './gbnf';
import { integerRange, jsonSchemaRules } from './json-schema';
import { DEAD, GrammarMatcher } from './matcher';
import { parseRegex } from './regex';

const cps = (s: string) => [...s].map((c) => c.codePointAt(0)!);

function matcherOf(rules: RuleSet): GrammarMatcher {
  return new GrammarMatcher(compileGrammar(rules));
}
/** Whether `s` is a whole sentence of the grammar. */
function matches(m: GrammarMatcher, s: string): boolean {
  const state = m.stepText(m.initial, cps(s));
  return state !== DEAD && m.accepts(state);
}
const regexMatcher = (src: string) => matcherOf(new Map([['root', parseRegex(src).expr]]));

describe('GBNF', () => {
  it('parses rules over several lines, classes, groups, repetition and comments, and matches exactly its sentences', () => {
    const m = matcherOf(
      parseGbnf(`
        # a list of small numbers
        root ::= "[" ( num ( ", " num ){0,2} )? "]"
        num  ::= [1-9] [0-9]?
               | "0"
      `),
    );
    for (const s of ['[]', '[0]', '[7, 42]', '[1, 2, 99]']) expect(matches(m, s), s).toBe(true);
    for (const s of ['[', '[01]', '[1,2]', '[1, 2, 3, 4]', '[100]', ' []']) expect(matches(m, s), s).toBe(false);
  });

  it('refuses bad text with the line: an unknown rule, a missing root, an unclosed group', () => {
    expect(() => compileGrammar(parseGbnf('root ::= item'))).toThrow(/rule item is used but not defined/);
    expect(() => parseGbnf('item ::= "a"')).toThrow(GrammarError);
    expect(() => parseGbnf('root ::= ( "a"\n')).toThrow(/unclosed \(.*line 2|unclosed \(/);
    expect(() => parseGbnf('root ::= "a" @')).toThrow(/line 1/);
  });

  it('runs nullable loops, and refuses left recursion instead of hanging', () => {
    const m = matcherOf(parseGbnf('root ::= ( "a"? )* "b"'));
    expect(matches(m, 'aab')).toBe(true);
    expect(matches(m, 'b')).toBe(true);
    expect(() => matcherOf(parseGbnf('root ::= root "a" | "b"'))).toThrow(/left-recursive/);
  });
});

describe('regex', () => {
  // The grammar of a pattern accepts exactly what JavaScript's RegExp matches in full, on random strings.
  const patterns = ['a(b|cd)*e?', '[a-c]{2,4}x', '\\d+(\\.\\d{1,2})?', '(?:ab|a)+b', '[^a]\\w\\s?.', 'x{3}|y{0,2}z', '[-a]+\\.[\\d]'];
  const alphabet = ['a', 'b', 'c', 'd', 'e', 'x', 'y', 'z', '1', '2', '.', ' ', '-', '_', '\n'];
  for (const p of patterns) {
    it(`agrees with RegExp on /${p}/`, () => {
      const m = regexMatcher(p);
      const re = new RegExp(`^(?:${p})$`);
      const rnd = seededRandom(p.length);
      let agreed = 0;
      for (let n = 0; n < 3000; n++) {
        const len = Math.floor(rnd() * 7);
        const s = Array.from({ length: len }, () => alphabet[Math.floor(rnd() * alphabet.length)]).join('');
        expect(matches(m, s), JSON.stringify(s)).toBe(re.test(s));
        agreed++;
      }
      expect(agreed).toBe(3000);
    });
  }

  it('refuses what it does not support, naming the offset', () => {
    expect(() => parseRegex('(a)\\1')).toThrow(/backreferences/);
    expect(() => parseRegex('a(?=b)')).toThrow(/lookaround/);
    expect(() => parseRegex('a^b')).toThrow(GrammarError);
    expect(() => parseRegex('(ab')).toThrow(/unclosed/);
  });

  it('as a JSON string value, escapes quotes, backslashes and control characters', () => {
    const m = matcherOf(new Map([['root', parseRegex('a"\\\\\\n', { json: true }).expr]]));
    expect(matches(m, 'a\\"\\\\\\n')).toBe(true);
    expect(matches(m, 'a"\\\n')).toBe(false);
  });
});

describe('JSON schema', () => {
  const schemaMatcher = (schema: unknown) => matcherOf(jsonSchemaRules(schema));

  it('integer ranges accept exactly the integers in range, written canonically', () => {
    for (const [lo, hi] of [
      [0, 120],
      [-15, 7],
      [13, 4078],
      [-300, -27],
      [5, 5],
    ]) {
      const m = matcherOf(new Map([['root', integerRange(lo, hi)]]));
      for (let v = lo - 60; v <= hi + 60; v++) expect(matches(m, String(v)), `${v} in [${lo}, ${hi}]`).toBe(v >= lo && v <= hi);
      expect(matches(m, '-0')).toBe(false);
      expect(matches(m, `0${Math.abs(hi)}`)).toBe(false);
    }
  });

  it('number bounds, inclusive and exclusive', () => {
    const m = schemaMatcher({ type: 'number', minimum: -2, exclusiveMaximum: 3 });
    for (const [s, ok] of [
      ['-2', true],
      ['-2.0', true],
      ['-2.5', false],
      ['-1.99', true],
      ['0', true],
      ['-0.5', true],
      ['2.999', true],
      ['3', false],
      ['3.0', false],
      ['1e2', false],
    ] as const)
      expect(matches(m, s), s).toBe(ok);
    const x = schemaMatcher({ type: 'number', exclusiveMinimum: 0, maximum: 1 });
    for (const [s, ok] of [
      ['0', false],
      ['0.0', false],
      ['0.01', true],
      ['1', true],
      ['1.000', true],
      ['1.5', false],
    ] as const)
      expect(matches(x, s), s).toBe(ok);
  });

  it('objects: properties in order, optional ones may be left out, commas right', () => {
    const m = schemaMatcher({
      type: 'object',
      properties: { a: { type: 'integer' }, b: { type: 'boolean' }, c: { const: 'x' } },
      required: ['b'],
      additionalProperties: false,
    });
    for (const s of ['{"b":true}', '{"a":1,"b":false}', '{"b":true,"c":"x"}', '{ "a": -3, "b": true, "c": "x" }', '{\n  "b": true\n}'])
      expect(matches(m, s), s).toBe(true);
    for (const s of ['{}', '{"a":1}', '{"b":true,}', '{"b":true,"a":1}', '{"b":true,"d":1}', '{,"b":true}']) expect(matches(m, s), s).toBe(false);
  });

  it('arrays with bounds, strings with lengths, enums, anyOf, null, formats and recursive $refs', () => {
    const arr = schemaMatcher({ type: 'array', items: { type: 'string', minLength: 1, maxLength: 3 }, minItems: 1, maxItems: 2 });
    for (const [s, ok] of [
      ['["a"]', true],
      ['["abc", "\\n"]', true],
      ['[]', false],
      ['["abcd"]', false],
      ['[""]', false],
      ['["a","b","c"]', false],
    ] as const)
      expect(matches(arr, s), s).toBe(ok);
    const tree = schemaMatcher({
      $defs: {
        node: { type: 'object', properties: { v: { enum: [1, 'two', null] }, kids: { type: 'array', items: { $ref: '#/$defs/node' } } }, required: ['v'] },
      },
      $ref: '#/$defs/node',
    });
    expect(matches(tree, '{"v":1,"kids":[{"v":"two"},{"v":null,"kids":[]}]}')).toBe(true);
    expect(matches(tree, '{"v":3}')).toBe(false);
    const any = schemaMatcher({ anyOf: [{ type: 'null' }, { type: 'string', format: 'date' }, { type: 'string', format: 'uuid' }] });
    for (const [s, ok] of [
      ['null', true],
      ['"2024-02-28"', true],
      ['"2024-13-01"', false],
      ['"123e4567-e89b-12d3-a456-426614174000"', true],
      ['"hello"', false],
    ] as const)
      expect(matches(any, s), s).toBe(ok);
    const pat = schemaMatcher({ type: 'string', pattern: '^[A-Z]{2}-\\d{3}$' });
    expect(matches(pat, '"AB-123"')).toBe(true);
    expect(matches(pat, '"AB-1234"')).toBe(false);
    const unanchored = schemaMatcher({ type: 'string', pattern: 'ab' });
    expect(matches(unanchored, '"xxabyy"')).toBe(true);
    expect(matches(unanchored, '"xxa"')).toBe(false);
  });

  it('whitespace is bounded', () => {
    const m = schemaMatcher({ type: 'array', items: { type: 'integer' } });
    expect(matches(m, `[\n${' '.repeat(20)}1]`)).toBe(true);
    expect(matches(m, `[\n${' '.repeat(21)}1]`)).toBe(false);
    expect(matches(m, '[  1]')).toBe(false);
  });

  it('refuses unsupported keywords by name, and schemas that allow nothing', () => {
    expect(() => jsonSchemaRules({ type: 'object', properties: { a: { type: 'string', contentEncoding: 'base64' } } })).toThrow(UnsupportedFieldError);
    expect(() => jsonSchemaRules({ type: 'object', properties: { a: { type: 'string', contentEncoding: 'base64' } } })).toThrow(
      /schema\.properties\.a\.contentEncoding/,
    );
    expect(() => jsonSchemaRules({ allOf: [{ type: 'string' }] })).toThrow(/allOf/);
    expect(() => jsonSchemaRules({ type: 'integer', minimum: 5, maximum: 4 })).toThrow(GrammarError);
    expect(() => jsonSchemaRules({ type: 'string', format: 'email' })).toThrow(/format email/);
    expect(() => jsonSchemaRules({ $ref: '#/$defs/missing' })).toThrow(/does not resolve/);
  });

  it('objects without properties: additionalProperties false is the empty object, a schema makes a map of it', () => {
    const none = schemaMatcher({ type: 'object', additionalProperties: false });
    expect(matches(none, '{}')).toBe(true);
    expect(matches(none, '{"a":1}')).toBe(false);
    const map = schemaMatcher({ type: 'object', additionalProperties: { type: 'number' } });
    expect(matches(map, '{"a": 1, "b": 2.5}')).toBe(true);
    expect(matches(map, '{"a":"x"}')).toBe(false);
  });

  it('refuses a constraining keyword beside one that decides the value alone, and formats on numbers', () => {
    expect(() => jsonSchemaRules({ type: 'string', anyOf: [{ maxLength: 5 }] })).toThrow(/type beside anyOf/);
    expect(() => jsonSchemaRules({ minimum: 0, anyOf: [{ type: 'integer' }] })).toThrow(UnsupportedFieldError);
    expect(() => jsonSchemaRules({ type: 'string', format: 'date', pattern: '^2024' })).toThrow(/pattern together with format/);
    expect(() => jsonSchemaRules({ type: 'integer', format: 'int32' })).toThrow(/format int32 on a integer/);
    // type beside enum keeps only the values of that type.
    const m = schemaMatcher({ type: 'string', enum: ['a', 1, null] });
    expect(matches(m, '"a"')).toBe(true);
    expect(matches(m, '1')).toBe(false);
  });

  it('refuses huge repetition counts at once, and bounds exponents to two digits', () => {
    const started = performance.now();
    expect(() => compileGrammar(new Map([['root', parseRegex('a{20000000}').expr]]))).toThrow(/repetition count is too large/);
    expect(() => jsonSchemaRules({ type: 'string', minLength: 100_000_000 })).toThrow(/minLength beyond/);
    expect(performance.now() - started).toBeLessThan(1000);
    const n = schemaMatcher({ type: 'number' });
    expect(matches(n, '1e99')).toBe(true);
    expect(matches(n, '1e999')).toBe(false);
  });

  it('\\s and \\S know every ECMAScript space', () => {
    const m = regexMatcher('\\S+');
    expect(matches(m, 'a\u3000b')).toBe(false);
    expect(matches(regexMatcher('a\\sb'), 'a\u2003b')).toBe(true);
  });
});
