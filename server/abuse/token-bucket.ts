/**
 * A global token bucket: the no-JavaScript form can't do a proof of work, so
 * its submissions share one budget instead (no per-client state, no IPs).
 * Over the budget, sources are asked to come back in a few minutes; nothing
 * already accepted is affected.
 *
 * @example
 * const bucket = new TokenBucket({ capacity: 30, refillPerMinute: 2 });
 * if (!bucket.take()) showBusyPage();
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly o: { capacity: number; refillPerMinute: number },
    private readonly now: () => number = () => Date.now(),
  ) {
    this.tokens = o.capacity;
    this.last = now();
  }

  take(): boolean {
    const now = this.now();
    this.tokens = Math.min(this.o.capacity, this.tokens + ((now - this.last) / 60_000) * this.o.refillPerMinute);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
