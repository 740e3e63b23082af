// A context-free grammar over Unicode code points: the common form that GBNF text (gbnf.ts), regular
// expressions (regex.ts) and JSON schemas (json-schema.ts) compile to, and that the matcher (matcher.ts) runs.
// Expressions are trees; compile() flattens them into rules whose alternatives are sequences of two kinds
// of element, a character class or a reference to a rule, each sequence ending in END (as llama.cpp's
// grammar does). Repetition becomes right-recursive helper rules, so the matcher's stacks do not grow with it.

import { GrammarError } from '../errors';

/** Inclusive code-point ranges [lo0, hi0, lo1, hi1, ...]; `negated` matches every code point outside them. */
export interface CharClass {
  ranges: number[];
  negated: boolean;
}

export type Expr =
  | { k: 'lit'; text: string }
  | { k: 'class'; cls: CharClass }
  | { k: 'ref'; name: string }
  | { k: 'seq'; items: Expr[] }
  | { k: 'alt'; items: Expr[] }
  | { k: 'rep'; item: Expr; min: number; max: number };

export const lit = (text: string): Expr => ({ k: 'lit', text });
export const ref = (name: string): Expr => ({ k: 'ref', name });
export const seq = (...items: Expr[]): Expr => ({ k: 'seq', items });
export const alt = (...items: Expr[]): Expr => ({ k: 'alt', items });
export const rep = (item: Expr, min: number, max = Number.POSITIVE_INFINITY): Expr => ({ k: 'rep', item, min, max });
export const opt = (item: Expr): Expr => rep(item, 0, 1);
export const cls = (ranges: number[], negated = false): Expr => ({ k: 'class', cls: { ranges, negated } });
/** A class of the listed characters and `a-z`-style ranges, written as in a regex's brackets (no escapes). */
export function chars(spec: string, negated = false): Expr {
  const cp = [...spec].map((c) => c.codePointAt(0)!);
  const ranges: number[] = [];
  for (let i = 0; i < cp.length; i++) {
    if (cp[i + 1] === 45 && i + 2 < cp.length) {
      ranges.push(cp[i], cp[i + 2]);
      i += 2;
    } else ranges.push(cp[i], cp[i]);
  }
  return cls(ranges, negated);
}

/** Rules by name; `root` is where matching starts. */
export type RuleSet = Map<string, Expr>;

export const END = 0;
export const CHAR = 1;
export const REF = 2;

/** The flat form: element i is kind[i] with arg[i] (a class index for CHAR, a rule index for REF). */
export interface CompiledGrammar {
  kind: Uint8Array;
  arg: Int32Array;
  classes: CharClass[];
  /** Each rule's alternatives, as positions of their first element. */
  alternatives: number[][];
  ruleNames: string[];
  root: number;
}

/** Bounded repetitions expand to copies: a grammar past this many elements is refused. */
export const MAX_ELEMENTS = 1_000_000;
/** Largest {n,m} count. */
export const MAX_REPEAT = 10_000;

export function classMatches(c: CharClass, cp: number): boolean {
  const r = c.ranges;
  let inside = false;
  for (let i = 0; i < r.length; i += 2) {
    if (cp >= r[i] && cp <= r[i + 1]) {
      inside = true;
      break;
    }
  }
  return inside !== c.negated;
}

export function compileGrammar(rules: RuleSet, root = 'root'): CompiledGrammar {
  if (!rules.has(root)) throw new GrammarError(`no rule named ${root}`, { field: 'grammar', expected: `a rule ${root} ::= ...` });
  const kind: number[] = [];
  const arg: number[] = [];
  const classes: CharClass[] = [];
  const classIndex = new Map<string, number>();
  const alternatives: number[][] = [];
  const ruleNames: string[] = [];
  const index = new Map<string, number>();
  const pending: [number, Expr][] = [];

  const ruleId = (name: string): number => {
    let id = index.get(name);
    if (id === undefined) {
      const body = rules.get(name);
      if (!body) throw new GrammarError(`rule ${name} is used but not defined`, { field: 'grammar' });
      id = newRule(name, body);
    }
    return id;
  };
  const newRule = (name: string, body: Expr): number => {
    const id = alternatives.length;
    alternatives.push([]);
    ruleNames.push(name);
    if (rules.get(name) === body) index.set(name, id);
    pending.push([id, body]);
    return id;
  };
  const classId = (c: CharClass): number => {
    const key = `${c.negated ? '^' : ''}${c.ranges.join(',')}`;
    let id = classIndex.get(key);
    if (id === undefined) {
      id = classes.length;
      classes.push(c);
      classIndex.set(key, id);
    }
    return id;
  };
  // Helper rules for nested alternatives and repetitions, shared by structure so copies stay small.
  const helpers = new Map<Expr, number>();
  const helper = (e: Expr, name: string): number => {
    let id = helpers.get(e);
    if (id === undefined) {
      id = newRule(name, e);
      helpers.set(e, id);
    }
    return id;
  };

  /** The elements of one sequence, appended to `out` as [kind, arg] pairs. */
  const emit = (e: Expr, out: number[], owner: string): void => {
    switch (e.k) {
      case 'lit':
        for (const ch of e.text) out.push(CHAR, classId({ ranges: [ch.codePointAt(0)!, ch.codePointAt(0)!], negated: false }));
        return;
      case 'class':
        out.push(CHAR, classId(e.cls));
        return;
      case 'ref':
        out.push(REF, ruleId(e.name));
        return;
      case 'seq':
        for (const i of e.items) emit(i, out, owner);
        return;
      case 'alt':
        if (e.items.length === 1) emit(e.items[0], out, owner);
        else out.push(REF, helper(e, `${owner}/alt`));
        return;
      case 'rep': {
        const { item, min, max } = e;
        if (!(Number.isInteger(min) && min >= 0 && max >= min)) throw new GrammarError('bad repetition bounds', { field: 'grammar', got: `{${min},${max}}` });
        // Bounded repetition expands to copies: refuse a count that would build a grammar past MAX_ELEMENTS.
        if (min > MAX_REPEAT || (max !== Number.POSITIVE_INFINITY && max > MAX_REPEAT))
          throw new GrammarError('a repetition count is too large', { field: 'grammar', expected: `at most ${MAX_REPEAT}`, got: `{${min},${max}}` });
        for (let i = 0; i < min; i++) {
          emit(item, out, owner);
          if (out.length > 2 * MAX_ELEMENTS) throw new GrammarError('grammar is too large', { field: 'grammar', expected: `at most ${MAX_ELEMENTS} elements` });
        }
        if (max === Number.POSITIVE_INFINITY) {
          out.push(REF, starRule(item, owner));
        } else if (max > min) out.push(REF, optionalChain(item, max - min, owner));
        return;
      }
    }
  };
  const stars = new Map<Expr, number>();
  /** R ::= item R | "" */
  const starRule = (item: Expr, owner: string): number => {
    let id = stars.get(item);
    if (id === undefined) {
      id = alternatives.length;
      alternatives.push([]);
      ruleNames.push(`${owner}/star`);
      stars.set(item, id);
      const body: number[] = [];
      emit(item, body, owner);
      body.push(REF, id);
      addAlternatives(id, [body, []]);
    }
    return id;
  };
  const chains = new Map<Expr, number[]>();
  /** O_n ::= item O_{n-1} | "" (O_0 is empty): at most n more items, one way to match each count. */
  const optionalChain = (item: Expr, n: number, owner: string): number => {
    let built = chains.get(item);
    if (!built) chains.set(item, (built = []));
    while (built.length < n) {
      const id = alternatives.length;
      alternatives.push([]);
      ruleNames.push(`${owner}/upto${built.length + 1}`);
      const body: number[] = [];
      emit(item, body, owner);
      if (built.length > 0) body.push(REF, built[built.length - 1]);
      addAlternatives(id, [body, []]);
      built.push(id);
    }
    return built[n - 1];
  };
  const addAlternatives = (id: number, bodies: number[][]): void => {
    for (const body of bodies) {
      alternatives[id].push(kind.length);
      for (let i = 0; i < body.length; i += 2) {
        kind.push(body[i]);
        arg.push(body[i + 1]);
      }
      kind.push(END);
      arg.push(0);
      if (kind.length > MAX_ELEMENTS) throw new GrammarError('grammar is too large', { field: 'grammar', expected: `at most ${MAX_ELEMENTS} elements` });
    }
  };

  const rootId = ruleId(root);
  while (pending.length) {
    const [id, body] = pending.shift()!;
    const name = ruleNames[id];
    const alts = body.k === 'alt' ? body.items : [body];
    const bodies = alts.map((a) => {
      const out: number[] = [];
      emit(a, out, name);
      return out;
    });
    addAlternatives(id, bodies);
  }
  return { kind: Uint8Array.from(kind), arg: Int32Array.from(arg), classes, alternatives, ruleNames, root: rootId };
}
