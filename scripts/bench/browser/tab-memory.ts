/**
 * Watches a Chromium tab's memory while it works: the resident memory (VmRSS
 * in /proc) of every renderer process, which is what the tab costs the
 * machine (JavaScript heap, ArrayBuffers, Blink, everything), and, from
 * `Runtime.getHeapUsage`, the tab's JavaScript heap and the memory behind its
 * ArrayBuffers (live or not yet collected), which say whether it is
 * JavaScript that holds on to bytes. The tab's renderer is the one whose peak
 * is highest (the others are spare or blank).
 *
 * Renderer pids come from the browser's own list (`SystemInfo.getProcessInfo`)
 * and are read again now and then, since Chromium may start one late. Linux
 * only: elsewhere `start` rejects.
 *
 * @example
 * const memory = await TabMemory.start(chrome.send, tab.send);
 * await work();
 * const { peakRssBytes, medianRssBytes, afterGcRssBytes } = await memory.stop(); // stop() runs a full GC
 */
import { readRss } from '../rss-sampler.ts';
import type { Send } from './cdp-pipe.ts';

export type TabMemoryFigures = {
  /** The tab's renderer: VmRSS when watching started, and the highest seen. */
  startRssBytes: number;
  peakRssBytes: number;
  /** The median of the tab's samples: where it sits, not where GC timing briefly took it. */
  medianRssBytes: number;
  /** After the work, once a full garbage collection has run: what the tab still holds. */
  afterGcRssBytes: number;
  startJsHeapBytes: number;
  peakJsHeapBytes: number;
  /** ArrayBuffer memory (0 where Chromium doesn't report it). */
  peakArrayBufferBytes: number;
  samples: number;
};

const RSS_EVERY_MS = 20;
const HEAP_EVERY_MS = 200;
const PIDS_EVERY_MS = 2000;

export class TabMemory {
  private readonly rss = new Map<number, { start: number; peak: number; samples: number[] }>();
  private heapStart = 0;
  private heapPeak = 0;
  private arrayBufferPeak = 0;
  private samples = 0;
  private timers: NodeJS.Timeout[] = [];
  private heapReading: Promise<void> = Promise.resolve();

  private constructor(
    private readonly browserSend: Send,
    private readonly tabSend: Send,
  ) {}

  /** `browserSend` talks to the browser, `tabSend` to the tab's session (cdp-pipe.ts). */
  static async start(browserSend: Send, tabSend: Send): Promise<TabMemory> {
    const m = new TabMemory(browserSend, tabSend);
    await m.readPids();
    if (m.rss.size === 0) throw new Error('no renderer process whose memory can be read (/proc is Linux only)');
    m.heapStart = m.heapPeak = (await m.heapUsage()).usedSize;
    m.timers = [
      setInterval(() => m.readRss(), RSS_EVERY_MS),
      setInterval(() => void (m.heapReading = m.readHeap()), HEAP_EVERY_MS),
      setInterval(() => void m.readPids().catch(() => {}), PIDS_EVERY_MS),
    ];
    return m;
  }

  async stop(): Promise<TabMemoryFigures> {
    for (const t of this.timers) clearInterval(t);
    await this.heapReading;
    this.readRss();
    await this.readHeap();
    let tabPid = 0;
    let tab = { start: 0, peak: 0, samples: [0] };
    for (const [pid, r] of this.rss) if (r.peak > tab.peak) [tabPid, tab] = [pid, r];
    await this.tabSend('HeapProfiler.collectGarbage');
    // Let the renderer hand freed memory back before reading it.
    await new Promise((r) => setTimeout(r, 1000));
    const sorted = [...tab.samples].sort((a, b) => a - b);
    return {
      startRssBytes: tab.start,
      peakRssBytes: tab.peak,
      medianRssBytes: sorted[Math.floor(sorted.length / 2)]!,
      afterGcRssBytes: readRss(tabPid) ?? 0,
      startJsHeapBytes: this.heapStart, peakJsHeapBytes: this.heapPeak, peakArrayBufferBytes: this.arrayBufferPeak, samples: this.samples };
  }

  private async readPids(): Promise<void> {
    const { processInfo } = (await this.browserSend('SystemInfo.getProcessInfo')) as { processInfo: { type: string; id: number }[] };
    for (const p of processInfo) {
      if (p.type !== 'renderer' || this.rss.has(p.id)) continue;
      const now = readRss(p.id);
      if (now !== undefined) this.rss.set(p.id, { start: now, peak: now, samples: [now] });
    }
  }

  private readRss(): void {
    this.samples++;
    for (const [pid, r] of this.rss) {
      const now = readRss(pid);
      if (now === undefined) continue;
      r.samples.push(now);
      if (now > r.peak) r.peak = now;
    }
  }

  private async readHeap(): Promise<void> {
    const usage = await this.heapUsage().catch(() => ({ usedSize: 0, backingStorageSize: 0 }));
    this.heapPeak = Math.max(this.heapPeak, usage.usedSize);
    this.arrayBufferPeak = Math.max(this.arrayBufferPeak, usage.backingStorageSize ?? 0);
  }

  private async heapUsage(): Promise<{ usedSize: number; backingStorageSize?: number }> {
    return (await this.tabSend('Runtime.getHeapUsage')) as { usedSize: number; backingStorageSize?: number };
  }
}

