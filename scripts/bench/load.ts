/**
 * Load generation with autocannon (a well-kept HTTP load generator, used as a
 * library): many keep-alive connections, each sending the next request as soon
 * as its last one is answered. Latencies are collected here from every 2xx
 * response (autocannon's own histogram rounds to whole milliseconds), and
 * throughput counts only 2xx answers, so a run that got errors can't look fast.
 *
 * @example
 * const result = await runLoad({ url, connections: 50, seconds: 20, maxRequests: bodies.length - 50, next: () => ({ method: 'POST', path: '/api/v1/tips', headers, body: bodies[i++] }) });
 * result.perSecond; result.p50Ms; result.p99Ms;
 */
import autocannon, { type Request, type Result } from 'autocannon';

export type LoadRequest = { method: 'GET' | 'POST'; path: string; headers?: Record<string, string>; body?: string };

export type LoadResult = {
  /** 2xx answers per second over the whole run. */
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  ok: number;
  failed: number;
  seconds: number;
  /** Status codes other than 2xx, and connection errors, by count. */
  failures: Record<string, number>;
};

export type LoadOptions = {
  url: string;
  connections: number;
  /** Upper bound on the run's length. */
  seconds: number;
  /**
   * Upper bound on the requests sent (autocannon shares it out between the
   * connections). `next` must be able to make this many, plus one per connection.
   */
  maxRequests: number;
  /** The next request to send. */
  next: () => LoadRequest;
};

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const latencies: number[] = [];
  const refusals: Record<string, number> = {};
  let timer: NodeJS.Timeout | undefined;
  const result = await new Promise<Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: o.url,
        connections: Math.min(o.connections, o.maxRequests),
        // With `amount`, autocannon ignores `duration`; the timer below ends the run instead.
        amount: o.maxRequests,
        // The end of a run is noticed at the next sample: keep that gap small.
        sampleInt: 100,
        timeout: 30,
        requests: [
          {
            setupRequest: (request: Request) => {
              const r = o.next();
              return { ...request, method: r.method, path: r.path, headers: r.headers ?? {}, body: r.body };
            },
            // Which refusal, by the error JSON's code: "409" alone can't tell a stale proof of work from a replay.
            onResponse: (status: number, body: string) => {
              if (status >= 200 && status < 300) return;
              let code = '';
              try {
                code = String((JSON.parse(body) as { error?: { code?: unknown } }).error?.code ?? '');
              } catch {
                /* not JSON */
              }
              const key = code ? `${status} ${code}` : String(status);
              refusals[key] = (refusals[key] ?? 0) + 1;
            },
          } as { setupRequest: (request: Request) => Request }, // autocannon calls onResponse too; its types leave it out
        ],
      },
      (error, r) => (error ? reject(error) : resolve(r)),
    );
    instance.on('response', (_client, statusCode, _bytes, ms) => {
      if (statusCode >= 200 && statusCode < 300) latencies.push(ms);
    });
    timer = setTimeout(() => instance.stop(), o.seconds * 1000);
  }).finally(() => clearTimeout(timer));
  latencies.sort((a, b) => a - b);
  const failures: Record<string, number> = {};
  for (const [code, { count }] of Object.entries(result.statusCodeStats)) if (!code.startsWith('2')) failures[code] = count;
  Object.assign(failures, refusals);
  if (result.errors) failures.errors = result.errors;
  if (result.timeouts) failures.timeouts = result.timeouts;
  const ok = latencies.length;
  return {
    perSecond: ok / result.duration,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    ok,
    failed: result.non2xx + result.errors,
    seconds: result.duration,
    failures,
  };
}

/** The value at fraction `q` of sorted `values` (nearest rank); NaN when empty. */
export function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}
