/**
 * Slows down token guessing on the journalist API without looking at who is
 * asking: a global backoff after recent failures, plus a counter per token id
 * (the public part of a token), which locks that id out for a while after
 * repeated failures. A 256-bit secret can't be guessed anyway; this keeps
 * floods of bad tokens from costing database work.
 *
 * @example
 * const throttle = new AuthThrottle();
 * throttle.check(tokenId); // throws ApiError 429 while locked
 * throttle.failed(tokenId);
 */
import { ApiError } from '../http/api-error.ts';

const WINDOW_MS = 60_000;
const PER_ID_LIMIT = 10;
const GLOBAL_LIMIT = 200;
const MAX_TRACKED = 10_000;

export class AuthThrottle {
  private readonly perId = new Map<string, { count: number; since: number }>();
  private global: { count: number; since: number } = { count: 0, since: 0 };

  constructor(private readonly now: () => number = () => Date.now()) {}

  check(tokenId: string): void {
    const now = this.now();
    if (now - this.global.since > WINDOW_MS) this.global = { count: 0, since: now };
    if (this.global.count >= GLOBAL_LIMIT) throw tooMany();
    const entry = this.perId.get(tokenId);
    if (entry && now - entry.since <= WINDOW_MS && entry.count >= PER_ID_LIMIT) throw tooMany();
  }

  failed(tokenId: string): void {
    const now = this.now();
    this.global.count++;
    const entry = this.perId.get(tokenId);
    if (!entry || now - entry.since > WINDOW_MS) {
      if (this.perId.size >= MAX_TRACKED) this.perId.delete(this.perId.keys().next().value!);
      this.perId.set(tokenId, { count: 1, since: now });
    } else entry.count++;
  }
}

function tooMany(): ApiError {
  return new ApiError(429, 'too-many-attempts', 'Too many failed sign-ins. Wait a minute and try again.');
}
