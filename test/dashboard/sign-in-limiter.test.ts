// The pure sign-in limiter (issue 17 item 3): each row is a history of attempts and what the next
// attempt is told. Time is a number passed in; nothing waits.
import { describe, expect, it } from 'vitest';
import { backoffMs, DEFAULT_SIGN_IN_LIMITS, SignInLimiter, type LimitReason } from '../../hub/http/sign-in-limiter.js';

const S = 1000;
const MIN = 60 * S;

/** One step of a history: `fail`/`ok` an attempt by user@address at time t (ms). */
type Step = [op: 'fail' | 'ok', user: string, address: string, t: number];

/** n failures of user from each of the addresses, one every `gap` ms, interleaved address by address. */
function spread(user: string, addresses: string[], n: number, gap: number, start = 0): Step[] {
  const steps: Step[] = [];
  let t = start;
  for (let i = 0; i < n; i++) for (const a of addresses) steps.push(['fail', user, a, (t += gap)]);
  return steps;
}

const addrs = (n: number, prefix = '203.0.113.') => Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);
const fails = (n: number, user: string, address: string, start = 0, gap = 1): Step[] => Array.from({ length: n }, (_, i) => ['fail', user, address, start + i * gap] as Step);

function replay(steps: Step[]): SignInLimiter {
  const l = new SignInLimiter();
  for (const [op, user, address, t] of steps) {
    // Every step in a history is an attempt that was let through: the tables say so.
    expect(l.check(user, address, t).retryAfterS, `${op} ${user}@${address} at ${t}`).toBe(0);
    l.attempted(address, t);
    if (op === 'fail') l.failed(user, address, t);
    else l.succeeded(user, address);
  }
  return l;
}

describe('backoffMs', () => {
  it.each([
    [0, 4, 0],
    [4, 4, 0],
    [5, 4, 30 * S],
    [6, 4, 60 * S],
    [8, 4, 240 * S],
    [9, 4, 480 * S],
    [10, 4, 15 * MIN],
    [5000, 4, 15 * MIN],
  ])('%i failures with %i free wait %i ms', (failures, free, want) => {
    expect(backoffMs(failures, free, 30 * S, 15 * MIN)).toBe(want);
  });
});

describe('SignInLimiter', () => {
  const rows: { name: string; history: Step[]; next: [user: string, address: string, t: number]; wait: number; reason: LimitReason | null }[] = [
    { name: 'nothing happened: allowed', history: [], next: ['dana', '192.0.2.20', 0], wait: 0, reason: null },
    { name: '4 typos from one address: still allowed', history: fails(4, 'dana', '192.0.2.20'), next: ['dana', '192.0.2.20', 10], wait: 0, reason: null },
    { name: '5 failures from one address: that address waits 30 s for that username', history: fails(5, 'dana', '198.51.100.7'), next: ['dana', '198.51.100.7', 4], wait: 30, reason: 'username-and-address' },
    { name: '5 failures from one address: after 30 s it may try again', history: fails(5, 'dana', '198.51.100.7'), next: ['dana', '198.51.100.7', 4 + 30 * S], wait: 0, reason: null },
    { name: '7 failures (waiting each time): the wait doubles to 2 minutes', history: [...fails(5, 'dana', '198.51.100.7'), ['fail', 'dana', '198.51.100.7', 40 * S], ['fail', 'dana', '198.51.100.7', 110 * S]], next: ['dana', '198.51.100.7', 110 * S], wait: 120, reason: 'username-and-address' },
    { name: '5 failures from one address do not hold the same username at another address', history: fails(5, 'dana', '198.51.100.7'), next: ['dana', '192.0.2.20', 5], wait: 0, reason: null },
    { name: '5 failures for one username do not hold another username at that address', history: fails(5, 'dana', '198.51.100.7'), next: ['lee', '198.51.100.7', 5], wait: 0, reason: null },
    { name: 'a success clears the address own failures for that username', history: [...fails(4, 'dana', '192.0.2.20'), ['ok', 'dana', '192.0.2.20', 10], ...fails(4, 'dana', '192.0.2.20', 20)], next: ['dana', '192.0.2.20', 30], wait: 0, reason: null },
    { name: 'failures are forgotten an hour after the last', history: fails(5, 'dana', '198.51.100.7'), next: ['dana', '198.51.100.7', 4 + 60 * MIN], wait: 0, reason: null },
    {
      // The case: 100 failures in an hour spread over 20 addresses.
      name: '100 failures over 20 addresses: the officer at a clean address is not held at all',
      history: spread('dana', addrs(20), 5, 30 * S),
      next: ['dana', '192.0.2.20', 100 * 30 * S + 1],
      wait: 0,
      reason: null,
    },
    {
      name: '100 failures over 20 addresses: an officer who made one typo themselves waits seconds, never more than 10',
      // 11 s apart, so every guess in the history was itself let through.
      history: [['fail', 'dana', '192.0.2.20', 0], ...spread('dana', addrs(20), 5, 11 * S)],
      next: ['dana', '192.0.2.20', 1100 * S + 1],
      wait: 10,
      reason: 'username',
    },
    { name: 'the username-wide wait is over 10 s after the last failure', history: [['fail', 'dana', '192.0.2.20', 0], ...spread('dana', addrs(20), 5, 11 * S)], next: ['dana', '192.0.2.20', 1110 * S], wait: 0, reason: null },
    {
      name: 'one address trying many usernames: 30 failures hold that address for everyone',
      history: Array.from({ length: 30 }, (_, i) => ['fail', `user${i}`, '198.51.100.7', i * 4 * S] as Step),
      next: ['someone-new', '198.51.100.7', 29 * 4 * S],
      wait: 30,
      reason: 'address',
    },
    {
      name: 'one address: 20 attempts in a minute, the 21st waits for the window',
      history: Array.from({ length: 20 }, (_, i) => ['ok', `user${i}`, '198.51.100.7', i * S] as Step),
      next: ['user20', '198.51.100.7', 19 * S],
      wait: 41,
      reason: 'address-burst',
    },
  ];

  it.each(rows)('$name', ({ history, next, wait, reason }) => {
    const l = replay(history);
    expect(l.check(...next)).toEqual({ retryAfterS: wait, reason });
  });

  it('a refused attempt (not let through) counts nothing: waiting out the backoff is enough', () => {
    const l = replay(fails(5, 'dana', '198.51.100.7'));
    for (let t = 10; t < 30 * S; t += S) expect(l.check('dana', '198.51.100.7', t).retryAfterS).toBeGreaterThan(0);
    expect(l.check('dana', '198.51.100.7', 4 + 30 * S).retryAfterS).toBe(0);
  });

  it('memory is bounded: an attacker cycling usernames and addresses cannot grow the tables past the cap', () => {
    const l = new SignInLimiter({ ...DEFAULT_SIGN_IN_LIMITS, maxEntries: 500 });
    for (let i = 0; i < 20_000; i++) {
      const address = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
      l.attempted(address, i);
      l.failed(`guess-${i}`, address, i);
    }
    const sizes = l.sizes;
    for (const n of Object.values(sizes)) expect(n).toBeLessThanOrEqual(500);
    expect(sizes.pairs).toBe(500);
    // Least recently touched goes first: 499 newer records keep dana's, the 500th newer one drops it.
    const last = new SignInLimiter({ ...DEFAULT_SIGN_IN_LIMITS, maxEntries: 500 });
    for (let i = 0; i < 5; i++) last.failed('dana', '198.51.100.7', i);
    for (let i = 0; i < 499; i++) last.failed(`guess-${i}`, `10.0.0.${i}`, 10);
    expect(last.check('dana', '198.51.100.7', 20).reason).toBe('username-and-address');
    last.failed('guess-499', '10.0.1.244', 10);
    expect(last.sizes.pairs).toBe(500);
    expect(last.check('dana', '198.51.100.7', 20).reason).not.toBe('username-and-address');
  });
});
