import { describe, expect, it } from 'vitest';
import { StopMatcher } from './stop-matcher';

/** Feed the decoded text after each "token" and collect what is shown. */
function run(stops: string[], steps: string[]): { shown: string[]; text: string; stopped: boolean } {
  const m = new StopMatcher(stops);
  const shown: string[] = [];
  let stopped = false;
  for (const s of steps) {
    shown.push(m.push(s));
    if (m.stopped) {
      stopped = true;
      break;
    }
  }
  if (!stopped) shown.push(m.finish());
  return { shown: shown.filter(Boolean), text: m.text, stopped: m.stopped };
}

describe('StopMatcher', () => {
  it('shows text as it comes when there are no stop strings', () => {
    expect(run([], ['Hel', 'Hello', 'Hello there'])).toEqual({ shown: ['Hel', 'lo', ' there'], text: 'Hello there', stopped: false });
  });

  it('holds back a possible stop prefix and cuts before the stop string', () => {
    const r = run(['\nuser:'], ['Yes.', 'Yes.\n', 'Yes.\nus', 'Yes.\nuser:', 'Yes.\nuser: more']);
    expect(r).toEqual({ shown: ['Yes.'], text: 'Yes.', stopped: true });
  });

  it('releases held-back text when it turns out not to be a stop string', () => {
    expect(run(['END'], ['a E', 'a EN', 'a ENV'])).toEqual({ shown: ['a ', 'ENV'], text: 'a ENV', stopped: false });
  });

  it('never shows a trailing incomplete UTF-8 character', () => {
    expect(run([], ['caf\uFFFD', 'café'])).toEqual({ shown: ['caf', 'é'], text: 'café', stopped: false });
  });

  it('picks the earliest of several stop strings', () => {
    expect(run(['b', 'a'], ['xyab'])).toEqual({ shown: ['xy'], text: 'xy', stopped: true });
  });
});
