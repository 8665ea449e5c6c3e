/**
 * The part of autocannon's API the benchmark uses (autocannon ships no types,
 * and @types/autocannon describes an older major version).
 */
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events';

  export type Request = { method?: string; path?: string; headers?: Record<string, string>; body?: string | Buffer };

  export type Options = {
    url: string;
    connections?: number;
    duration?: number;
    amount?: number;
    /** ms between samples; the run's end is checked at each one. */
    sampleInt?: number;
    timeout?: number;
    requests?: { setupRequest?: (request: Request, context: Record<string, unknown>) => Request | undefined }[];
  };

  export type Result = {
    duration: number;
    errors: number;
    timeouts: number;
    non2xx: number;
    '2xx': number;
    statusCodeStats: Record<string, { count: number }>;
  };

  export type Instance = EventEmitter & {
    stop: () => void;
    on(event: 'response', listener: (client: unknown, statusCode: number, bytes: number, ms: number) => void): Instance;
  };

  function autocannon(options: Options, callback: (error: Error | null, result: Result) => void): Instance;
  export default autocannon;
}
