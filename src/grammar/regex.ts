// Regular expressions (the ECMAScript subset below) as grammar expressions: for the `regex` constraint and
// JSON schema `pattern`. Supported: literals and escapes (\n \t \r \f \v \0 \xHH \uHHHH \u{H...}, escaped
// punctuation), classes [...] with ranges, negation and \d \w \s inside, . \d \D \w \W \s \S, groups ( ) and
// (?: ), alternation |, quantifiers * + ? {n} {n,} {n,m} (a trailing lazy ? is accepted: it changes no
// match), ^ at the very start and $ at the very end. Refused with a GrammarError: backreferences,
// lookaround, named groups, word boundaries, flags.
//
// `json`: the expression describes a JSON string's value, so it is emitted as the string's source text:
// '"', '\' and control characters become their JSON escapes.

import { GrammarError } from '../errors';
import { alt, type CharClass, cls, type Expr, lit, rep, seq } from './grammar';

export interface ParsedRegex {
  expr: Expr;
  /** Whether the pattern starts with ^ / ends with $ (an unanchored JSON schema pattern matches anywhere). */
  anchoredStart: boolean;
  anchoredEnd: boolean;
}

const DIGIT = [48, 57];
const WORD = [48, 57, 65, 90, 95, 95, 97, 122];
// ECMAScript's WhiteSpace and LineTerminator: tab to carriage return, space, NBSP, the Zs spaces, LS, PS, BOM.
const SPACE = [9, 13, 32, 32, 160, 160, 0x1680, 0x1680, 0x2000, 0x200a, 0x2028, 0x2029, 0x202f, 0x202f, 0x205f, 0x205f, 0x3000, 0x3000, 0xfeff, 0xfeff];
const ANY = [10, 10, 13, 13, 0x2028, 0x2029]; // '.': everything but line terminators (negated)

export function parseRegex(source: string, o: { json?: boolean; field?: string } = {}): ParsedRegex {
  const field = o.field ?? 'regex';
  const cps = [...source].map((c) => c.codePointAt(0)!);
  let i = 0;
  const fail = (why: string): never => {
    throw new GrammarError(`${why} at offset ${i}`, { field, got: source });
  };
  const peek = () => cps[i];
  const eat = (c: string) => (cps[i] === c.codePointAt(0) ? (i++, true) : false);
  const charExpr = (cp: number): Expr => (o.json ? jsonChar(cp) : lit(String.fromCodePoint(cp)));
  const classExpr = (c: CharClass): Expr => (o.json ? jsonClass(c) : cls(c.ranges, c.negated));

  const anchoredStart = eat('^');
  const readEscape = (inClass: boolean): { cp: number } | { ranges: number[]; negated: boolean } => {
    const c = cps[i++];
    if (c === undefined) fail('a trailing backslash');
    const ch = String.fromCodePoint(c);
    const simple: Record<string, number> = { n: 10, t: 9, r: 13, f: 12, v: 11, '0': 0 };
    if (ch in simple) return { cp: simple[ch] };
    if (ch === 'd' || ch === 'D') return { ranges: DIGIT, negated: ch === 'D' };
    if (ch === 'w' || ch === 'W') return { ranges: WORD, negated: ch === 'W' };
    if (ch === 's' || ch === 'S') return { ranges: SPACE, negated: ch === 'S' };
    if (ch === 'x' || ch === 'u') {
      let hex: string;
      if (ch === 'u' && eat('{')) {
        const end = cps.indexOf(125, i);
        if (end < 0) fail('an unclosed \\u{');
        hex = String.fromCodePoint(...cps.slice(i, end));
        i = end + 1;
      } else {
        const n = ch === 'x' ? 2 : 4;
        hex = String.fromCodePoint(...cps.slice(i, i + n));
        i += n;
      }
      if (!/^[0-9a-fA-F]+$/.test(hex)) fail(`a bad \\${ch} escape`);
      return { cp: Number.parseInt(hex, 16) };
    }
    if (ch === 'b' && inClass) return { cp: 8 };
    if (/[a-zA-Z0-9]/.test(ch)) fail(`\\${ch} (backreferences, word boundaries and other escapes are not supported)`);
    return { cp: c };
  };
  const parseClass = (): CharClass => {
    const negated = eat('^');
    const ranges: number[] = [];
    let first = true;
    while (i < cps.length && (first || peek() !== 93)) {
      first = false;
      let lo: number;
      if (eat('\\')) {
        const e = readEscape(true);
        if ('ranges' in e) {
          if (e.negated) fail('a negated shorthand (\\D, \\W, \\S) inside a class');
          ranges.push(...e.ranges);
          continue;
        }
        lo = e.cp;
      } else lo = cps[i++];
      if (peek() === 45 && cps[i + 1] !== 93 && cps[i + 1] !== undefined) {
        i++;
        let hi: number;
        if (eat('\\')) {
          const e = readEscape(true);
          if ('ranges' in e) return fail('a shorthand as a range end');
          hi = e.cp;
        } else hi = cps[i++];
        if (hi < lo) fail('a range out of order');
        ranges.push(lo, hi);
      } else ranges.push(lo, lo);
    }
    if (!eat(']')) fail('an unclosed [');
    return { ranges, negated };
  };
  const atom = (): Expr | null => {
    const c = peek();
    if (c === undefined || c === 124 || c === 41) return null; // | )
    if (eat('(')) {
      if (eat('?')) {
        if (!eat(':')) fail('lookaround and named groups are not supported');
      }
      const inner = alternation();
      if (!eat(')')) fail('an unclosed (');
      return inner;
    }
    if (eat('[')) return classExpr(parseClass());
    if (eat('.')) return classExpr({ ranges: ANY, negated: true });
    if (eat('\\')) {
      const e = readEscape(false);
      return 'cp' in e ? charExpr(e.cp) : classExpr(e);
    }
    if (c === 36 && i === cps.length - 1) return null; // the final $
    if (c === 94 || c === 36) fail('^ and $ are supported only at the start and the end');
    if (c === 42 || c === 43 || c === 63 || c === 123) fail('a quantifier with nothing to repeat');
    i++;
    return charExpr(c);
  };
  const quantified = (): Expr | null => {
    const a = atom();
    if (!a) return null;
    let e = a;
    for (;;) {
      let min: number;
      let max: number;
      if (eat('*')) [min, max] = [0, Number.POSITIVE_INFINITY];
      else if (eat('+')) [min, max] = [1, Number.POSITIVE_INFINITY];
      else if (eat('?')) [min, max] = [0, 1];
      else if (peek() === 123) {
        const m = /^\{(\d+)(,(\d*))?\}/.exec(String.fromCodePoint(...cps.slice(i, i + 24)));
        if (!m) fail('a bad {n,m} quantifier');
        i += m![0].length;
        min = Number(m![1]);
        max = m![2] === undefined ? min : m![3] === '' ? Number.POSITIVE_INFINITY : Number(m![3]);
        if (max < min) fail('a {n,m} quantifier with m < n');
      } else return e;
      eat('?'); // lazy: the same set of matches
      e = rep(e, min, max);
    }
  };
  const concat = (): Expr => {
    const items: Expr[] = [];
    for (let q = quantified(); q; q = quantified()) items.push(q);
    return items.length === 1 ? items[0] : seq(...items);
  };
  function alternation(): Expr {
    const items = [concat()];
    while (eat('|')) items.push(concat());
    return items.length === 1 ? items[0] : alt(...items);
  }
  const expr = alternation();
  const anchoredEnd = eat('$');
  if (i < cps.length) fail(peek() === 41 ? 'an unmatched )' : 'an unexpected character');
  return { expr, anchoredStart, anchoredEnd };
}

const ESCAPES: Record<number, string> = { 8: '\\b', 9: '\\t', 10: '\\n', 12: '\\f', 13: '\\r', 34: '\\"', 92: '\\\\' };
/** Code points a JSON string must escape. */
const SPECIAL = [...Array.from({ length: 32 }, (_, k) => k), 34, 92];

/** One character of a JSON string's value, as the string's source text. */
export function jsonChar(cp: number): Expr {
  if (cp >= 32 && cp !== 34 && cp !== 92) return lit(String.fromCodePoint(cp));
  return lit(ESCAPES[cp] ?? `\\u${cp.toString(16).padStart(4, '0')}`);
}

/** A class of a JSON string's value characters as source text: plain characters, plus the escapes of special ones it matches. */
export function jsonClass(c: CharClass): Expr {
  const matched = SPECIAL.filter((cp) => {
    let inside = false;
    for (let k = 0; k < c.ranges.length; k += 2) if (cp >= c.ranges[k] && cp <= c.ranges[k + 1]) inside = true;
    return inside !== c.negated;
  });
  const plain = c.negated ? cls([...c.ranges, 0, 31, 34, 34, 92, 92], true) : cls(subtractSpecial(c.ranges));
  const escaped = matched.map(jsonChar);
  return escaped.length ? alt(plain, ...escaped) : plain;
}

function subtractSpecial(ranges: number[]): number[] {
  const out: number[] = [];
  for (let k = 0; k < ranges.length; k += 2) {
    let [lo, hi] = [ranges[k], ranges[k + 1]];
    lo = Math.max(lo, 32);
    for (const cut of [34, 92]) {
      if (lo <= cut && cut <= hi) {
        if (lo < cut) out.push(lo, cut - 1);
        lo = cut + 1;
      }
    }
    if (lo <= hi) out.push(lo, hi);
  }
  return out;
}
