/**
 * Pause and Resume for one attachment's upload, shared by the button (which
 * the source presses) and the uploader (which waits at the gate between chunks
 * and drops the chunk in flight when paused, to send it again on resume). The
 * uploader also closes the gate itself when the connection keeps failing, so
 * the source decides when to try again.
 *
 * @example
 * const gate = new PauseGate();
 * gate.subscribe((paused) => (button.textContent = paused ? 'Resume' : 'Pause'));
 * await gate.whenRunning(); // resolves at once, or on resume()
 */
export class PauseGate {
  private paused_ = false;
  private waiting: (() => void)[] = [];
  private readonly listeners = new Set<(paused: boolean) => void>();

  get paused(): boolean {
    return this.paused_;
  }

  pause(): void {
    if (this.paused_) return;
    this.paused_ = true;
    for (const l of this.listeners) l(true);
  }

  resume(): void {
    if (!this.paused_) return;
    this.paused_ = false;
    const waiting = this.waiting;
    this.waiting = [];
    for (const go of waiting) go();
    for (const l of this.listeners) l(false);
  }

  /** Resolves when the gate is open: at once, or when resume() is called. */
  whenRunning(): Promise<void> {
    return this.paused_ ? new Promise((go) => this.waiting.push(go)) : Promise.resolve();
  }

  /** Calls `listener` on every pause and resume. Returns a function that stops it. */
  subscribe(listener: (paused: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
