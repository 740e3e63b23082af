// Streaming text with stop strings: given the decoded text so far after each token, say what may be
// shown now. Text is held back while it ends in an incomplete UTF-8 character (U+FFFD from the decoder)
// or in a prefix of a stop string, and cut before the first stop string found.

export class StopMatcher {
  /** The final text, up to (not including) a stop string. */
  text = '';
  stopped = false;
  private shown = 0;
  /** Stops ending before this index were looked for in an earlier push (the text only grows). */
  private searched = 0;
  private readonly stops: string[];
  private readonly longest: number;

  constructor(stops: readonly string[]) {
    this.stops = stops.filter((s) => s.length > 0);
    this.longest = Math.max(0, ...this.stops.map((s) => s.length));
  }

  /** The decoded text so far; returns the newly showable part (possibly ''). */
  push(decoded: string): string {
    if (this.stopped) return '';
    let cut = -1;
    for (const s of this.stops) {
      const at = decoded.indexOf(s, this.searched);
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) {
      this.stopped = true;
      this.text = decoded.slice(0, cut);
      return this.take(this.text.length);
    }
    this.text = decoded;
    this.searched = Math.max(0, decoded.length - this.longest + 1);
    let safe = decoded.endsWith('\uFFFD') ? decoded.length - 1 : decoded.length;
    for (const s of this.stops) {
      for (let n = Math.min(s.length - 1, safe); n > 0; n--) {
        if (decoded.slice(safe - n, safe) === s.slice(0, n)) {
          safe -= n;
          break;
        }
      }
    }
    return this.take(safe);
  }

  /** Generation ended: whatever was held back is final. */
  finish(): string {
    return this.take(this.text.length);
  }

  private take(upTo: number): string {
    if (upTo <= this.shown) return '';
    const out = this.text.slice(this.shown, upTo);
    this.shown = upTo;
    return out;
  }
}
