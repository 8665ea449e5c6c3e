/**
 * Headless Chromium driven over the DevTools protocol on a pipe
 * (`--remote-debugging-pipe`), with nothing but the domains a step needs.
 *
 * Why not Playwright here: Playwright turns on the Network domain for every
 * page, and while it is on, Chromium keeps each request's body for DevTools
 * (up to its buffer limits, hundreds of MiB). A tab uploading hundreds of
 * MiB then looks as if it held them, when a source's browser, with no
 * DevTools open, doesn't. Memory figures must come from a tab as a source has it.
 *
 * @example
 * const chrome = await launchOverPipe(CHROMIUM_PATH, CHROMIUM_ARGS, workDir);
 * const tab = await chrome.openTab('http://127.0.0.1:8080/submit');
 * await tab.send('Runtime.evaluate', { expression: '1 + 1' });
 * await chrome.close();
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';

const COMMAND_TIMEOUT_MS = 60_000;

type Pending = { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void };
export type Send = (method: string, params?: Record<string, unknown>) => Promise<Record<string, unknown>>;

export type PipeBrowser = {
  /** Commands to the browser itself (SystemInfo, Browser). */
  send: Send;
  openTab: (url: string) => Promise<Tab>;
  close: () => Promise<void>;
};

export type Tab = {
  send: Send;
  /** Runs `expression` in the page and returns its value (awaiting a promise). Throws the page's exception. */
  evaluate: <T>(expression: string) => Promise<T>;
  /** Polls `expression` every 100 ms until it is truthy; throws after `timeoutMs`. */
  waitFor: (expression: string, timeoutMs: number) => Promise<void>;
};

export async function launchOverPipe(executable: string, args: string[], workDir: string): Promise<PipeBrowser> {
  const profile = await mkdtemp(join(workDir, 'chromium-profile-'));
  const child: ChildProcess = spawn(executable, [...args, '--headless', '--remote-debugging-pipe', `--user-data-dir=${profile}`, 'about:blank'], {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
  });
  // The last words Chromium printed, for the error when it dies.
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  const toBrowser = child.stdio[3] as Writable;
  const fromBrowser = child.stdio[4] as Readable;
  const pending = new Map<number, Pending>();
  const events = new Map<string, ((params: Record<string, unknown>) => void)[]>();
  let nextId = 1;
  let buffered = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('exit', (code, signal) => {
    for (const p of pending.values()) p.reject(new Error(`Chromium exited (${signal ?? code}): ${stderr.trim().split('\n').pop() ?? ''}`));
    pending.clear();
  });
  fromBrowser.setEncoding('utf8');
  fromBrowser.on('data', (text: string) => {
    buffered += text;
    for (let end = buffered.indexOf('\0'); end >= 0; end = buffered.indexOf('\0')) {
      const message = JSON.parse(buffered.slice(0, end)) as { id?: number; result?: Record<string, unknown>; error?: { message: string }; method?: string; params?: Record<string, unknown>; sessionId?: string };
      buffered = buffered.slice(end + 1);
      if (message.id !== undefined) {
        const p = pending.get(message.id);
        pending.delete(message.id);
        if (message.error) p?.reject(new Error(message.error.message));
        else p?.resolve(message.result ?? {});
      } else if (message.method) {
        for (const listener of events.get(`${message.sessionId ?? ''}:${message.method}`) ?? []) listener(message.params ?? {});
      }
    }
  });
  const sender =
    (sessionId?: string): Send =>
    (method, params = {}) =>
      new Promise((resolve, reject) => {
        const id = nextId++;
        // Bounded: a Chromium that stops answering fails the section instead of hanging the run.
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`Chromium did not answer ${method} within ${COMMAND_TIMEOUT_MS / 1000} s`));
        }, COMMAND_TIMEOUT_MS);
        pending.set(id, {
          resolve: (v) => (clearTimeout(timer), resolve(v)),
          reject: (e) => (clearTimeout(timer), reject(e)),
        });
        toBrowser.write(`${JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) })}\0`);
      });
  const once = (sessionId: string, method: string) =>
    new Promise<Record<string, unknown>>((resolve) => {
      const key = `${sessionId}:${method}`;
      events.set(key, [...(events.get(key) ?? []), resolve]);
    });
  const send = sender();

  return {
    send,
    async openTab(url) {
      const { targetId } = (await send('Target.createTarget', { url: 'about:blank' })) as { targetId: string };
      const { sessionId } = (await send('Target.attachToTarget', { targetId, flatten: true })) as { sessionId: string };
      const tabSend = sender(sessionId);
      await tabSend('Page.enable');
      const loaded = once(sessionId, 'Page.loadEventFired');
      await tabSend('Page.navigate', { url });
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${url} did not load within ${COMMAND_TIMEOUT_MS / 1000} s`)), COMMAND_TIMEOUT_MS)));
      await Promise.race([loaded, late]).finally(() => clearTimeout(timer));
      const evaluate = async <T>(expression: string): Promise<T> => {
        const r = (await tabSend('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true })) as { result: { value?: T }; exceptionDetails?: { text: string; exception?: { description?: string } } };
        if (r.exceptionDetails) throw new Error(r.exceptionDetails.exception?.description ?? r.exceptionDetails.text);
        return r.result.value as T;
      };
      return {
        send: tabSend,
        evaluate,
        async waitFor(expression, timeoutMs) {
          const until = performance.now() + timeoutMs;
          while (!(await evaluate<boolean>(`Boolean(${expression})`))) {
            if (performance.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${expression}`);
            await new Promise((r) => setTimeout(r, 100));
          }
        },
      };
    },
    async close() {
      await send('Browser.close').catch(() => {});
      const forced = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(forced);
      await rm(profile, { recursive: true, force: true });
    },
  };
}
