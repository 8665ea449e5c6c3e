/**
 * Watches another process's resident memory (VmRSS in /proc/PID/status) every
 * few milliseconds, from outside, so the watching costs the watched process
 * nothing. Linux only; elsewhere `available` is false.
 *
 * @example
 * const rss = await RssSampler.start(server.pid);
 * await upload();
 * const { growthBytes } = rss.stop();
 */
import { readFileSync } from 'node:fs';

export class RssSampler {
  private peak = 0;
  private readonly timer: NodeJS.Timeout;

  private constructor(
    private readonly pid: number,
    readonly startBytes: number,
    intervalMs: number,
  ) {
    this.peak = startBytes;
    this.timer = setInterval(() => {
      const now = readRss(this.pid);
      if (now !== undefined && now > this.peak) this.peak = now;
    }, intervalMs);
  }

  static available(pid: number): boolean {
    return readRss(pid) !== undefined;
  }

  static start(pid: number, intervalMs = 10): RssSampler {
    const start = readRss(pid);
    if (start === undefined) throw new Error('cannot read the process memory (/proc is Linux only)');
    return new RssSampler(pid, start, intervalMs);
  }

  stop(): { startBytes: number; peakBytes: number; growthBytes: number } {
    clearInterval(this.timer);
    const last = readRss(this.pid);
    if (last !== undefined && last > this.peak) this.peak = last;
    return { startBytes: this.startBytes, peakBytes: this.peak, growthBytes: this.peak - this.startBytes };
  }
}

/** A process's resident memory in bytes, from /proc; undefined once it is gone. */
export function readRss(pid: number): number | undefined {
  try {
    const kib = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kib === undefined ? undefined : Number(kib) * 1024;
  } catch {
    return undefined;
  }
}

/**
 * CPU time a process has used so far, user and system apart, in seconds
 * (fields 14 and 15 of /proc/PID/stat, in clock ticks of 1/100 s on Linux);
 * undefined once it is gone. On a shared machine this moves far less with
 * other sessions' load than wall time does.
 */
export function readCpuSeconds(pid: number): { user: number; system: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces; the fields after it are plain.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100 };
  } catch {
    return undefined;
  }
}
