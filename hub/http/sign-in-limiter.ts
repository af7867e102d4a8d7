/**
 * Sign-in limits (issue 17 item 3), pure: every method takes `now`, nothing reads a clock or does I/O.
 *
 * The rule the limits must keep: guessing from elsewhere never stops the right person signing in
 * from their own address. So no limit is keyed on the username alone for long, and none refuses an
 * address that has no recent failures of its own for that username:
 *
 * - **username and address**: the first 4 failures cost nothing (typos); from the 5th on, the next
 *   attempt waits 30 s, doubling with each further failure, at most 15 minutes. A success clears it.
 * - **address, across usernames** (one address trying many accounts): 20 attempts a minute, and from
 *   the 30th failure on the same doubling wait (30 s up to 15 minutes).
 * - **username, from everywhere** (guessing spread over many addresses): from the 10th failure on,
 *   an address that has itself failed for this username waits 1 s, doubling, at most 10 s after the
 *   username's last failure. An address with no failure for the username is never held by it.
 *
 * A record is forgotten an hour after its last failure. Each table is capped (least recently touched
 * dropped first) so an attacker cycling usernames or addresses cannot grow the hub's memory.
 */

const SECOND = 1000;
const MINUTE = 60 * SECOND;

export interface SignInLimits {
  /** Failures for one username from one address before waiting starts. */
  pairFreeFailures: number;
  /** Failures from one address (any usernames) before waiting starts. */
  addressFreeFailures: number;
  /** Failures for one username (any addresses) before the short global wait starts. */
  userFreeFailures: number;
  /** First wait of the pair and address limits; doubles with each further failure. */
  backoffBaseMs: number;
  /** Longest wait of the pair and address limits. */
  backoffMaxMs: number;
  /** First wait of the username-wide limit; doubles with each further failure. */
  userBackoffBaseMs: number;
  /** Longest wait of the username-wide limit: seconds, never more (it touches other people). */
  userBackoffMaxMs: number;
  /** Attempts (right or wrong) per address per burst window. */
  addressBurst: number;
  addressBurstWindowMs: number;
  /** A record is forgotten this long after its last failure. */
  forgetAfterMs: number;
  /** Most records each table holds. */
  maxEntries: number;
}

export const DEFAULT_SIGN_IN_LIMITS: SignInLimits = {
  pairFreeFailures: 4,
  addressFreeFailures: 29,
  userFreeFailures: 9,
  backoffBaseMs: 30 * SECOND,
  backoffMaxMs: 15 * MINUTE,
  userBackoffBaseMs: 1 * SECOND,
  userBackoffMaxMs: 10 * SECOND,
  addressBurst: 20,
  addressBurstWindowMs: MINUTE,
  forgetAfterMs: 60 * MINUTE,
  maxEntries: 20_000,
};

export type LimitReason = 'username-and-address' | 'address' | 'address-burst' | 'username';

export interface LimitDecision {
  /** Whole seconds until an attempt is allowed; 0 when it is allowed now. */
  retryAfterS: number;
  /** Which limit holds the attempt back (null when allowed). */
  reason: LimitReason | null;
}

interface FailureRecord {
  failures: number;
  lastFailureAt: number;
}

/** A Map used as an LRU: touching an entry moves it to the end; the front is dropped past the cap. */
class CappedMap<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly max: number) {}
  get size(): number {
    return this.map.size;
  }
  get(key: string): V | undefined {
    return this.map.get(key);
  }
  set(key: string, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    while (this.map.size > this.max) this.map.delete(this.map.keys().next().value!);
  }
  delete(key: string): void {
    this.map.delete(key);
  }
}

/** The wait after `failures` failures when `free` of them cost nothing, or 0. */
export function backoffMs(failures: number, free: number, baseMs: number, maxMs: number): number {
  if (failures <= free) return 0;
  // 2^n overflows to Infinity for huge n, which min() caps: no loop, no precision trouble.
  return Math.min(maxMs, baseMs * 2 ** (failures - free - 1));
}

export class SignInLimiter {
  private readonly pairs: CappedMap<FailureRecord>;
  private readonly addresses: CappedMap<FailureRecord>;
  private readonly users: CappedMap<FailureRecord>;
  private readonly bursts: CappedMap<number[]>;

  constructor(readonly limits: SignInLimits = DEFAULT_SIGN_IN_LIMITS) {
    this.pairs = new CappedMap(limits.maxEntries);
    this.addresses = new CappedMap(limits.maxEntries);
    this.users = new CappedMap(limits.maxEntries);
    this.bursts = new CappedMap(limits.maxEntries);
  }

  /** Records held, per table (to show the memory is bounded). */
  get sizes(): { pairs: number; addresses: number; users: number; bursts: number } {
    return { pairs: this.pairs.size, addresses: this.addresses.size, users: this.users.size, bursts: this.bursts.size };
  }

  /** May this attempt go ahead now? Counts nothing: call `attempted` when it does go ahead. */
  check(username: string, address: string, now: number): LimitDecision {
    const l = this.limits;
    const waits: [number, LimitReason][] = [];
    const pair = this.live(this.pairs, pairKey(username, address), now);
    if (pair) waits.push([pair.lastFailureAt + backoffMs(pair.failures, l.pairFreeFailures, l.backoffBaseMs, l.backoffMaxMs), 'username-and-address']);
    const addr = this.live(this.addresses, address, now);
    if (addr) waits.push([addr.lastFailureAt + backoffMs(addr.failures, l.addressFreeFailures, l.backoffBaseMs, l.backoffMaxMs), 'address']);
    const burst = this.liveBurst(address, now);
    if (burst.length >= l.addressBurst) waits.push([burst[burst.length - l.addressBurst] + l.addressBurstWindowMs, 'address-burst']);
    // The username-wide wait only holds addresses that have failed for this username themselves.
    const user = pair ? this.live(this.users, username, now) : undefined;
    if (user) waits.push([user.lastFailureAt + backoffMs(user.failures, l.userFreeFailures, l.userBackoffBaseMs, l.userBackoffMaxMs), 'username']);
    let until = now;
    let reason: LimitReason | null = null;
    for (const [at, why] of waits) {
      if (at > until) {
        until = at;
        reason = why;
      }
    }
    return reason === null ? { retryAfterS: 0, reason: null } : { retryAfterS: Math.max(1, Math.ceil((until - now) / SECOND)), reason };
  }

  /** An attempt went ahead (before its password is checked): counts towards the address burst. */
  attempted(address: string, now: number): void {
    const burst = this.liveBurst(address, now);
    burst.push(now);
    // Only the newest `addressBurst` matter for the window.
    if (burst.length > this.limits.addressBurst) burst.splice(0, burst.length - this.limits.addressBurst);
    this.bursts.set(address, burst);
  }

  /** A wrong password, an unknown or a disabled user. */
  failed(username: string, address: string, now: number): void {
    for (const [table, key] of [
      [this.pairs, pairKey(username, address)],
      [this.addresses, address],
      [this.users, username],
    ] as const) {
      const rec = this.live(table, key, now) ?? { failures: 0, lastFailureAt: now };
      table.set(key, { failures: rec.failures + 1, lastFailureAt: now });
    }
  }

  /** The right password: this person at this address starts afresh. */
  succeeded(username: string, address: string): void {
    this.pairs.delete(pairKey(username, address));
  }

  private live(table: CappedMap<FailureRecord>, key: string, now: number): FailureRecord | undefined {
    const rec = table.get(key);
    if (rec && now - rec.lastFailureAt >= this.limits.forgetAfterMs) {
      table.delete(key);
      return undefined;
    }
    return rec;
  }

  private liveBurst(address: string, now: number): number[] {
    const list = this.bursts.get(address);
    if (!list) return [];
    const kept = list.filter((t) => t > now - this.limits.addressBurstWindowMs);
    if (kept.length === 0) this.bursts.delete(address);
    return kept;
  }
}

function pairKey(username: string, address: string): string {
  // JSON keeps the two parts apart whatever characters a username holds.
  return JSON.stringify([username, address]);
}
