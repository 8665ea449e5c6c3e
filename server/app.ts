/**
 * The Hono app: source pages and API, journalist API, static assets, and the
 * rules every response follows (security headers, a logger that records no
 * client data, errors as `{ "error": { "code", "message" } }`).
 *
 * @example
 * const app = createApp({ db, newsroomPublicKey, staticFiles, log: console.log });
 * const res = await app.request('/api/v1/manifest');
 */
import { dirname } from 'node:path';
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { DEFAULT_LIMITS, type Limits } from './config.ts';
import { CurrentRecipients, ManifestUnavailableError } from './current-recipients.ts';
import type { TiplineDb } from './db/open-database.ts';
import { ApiError, errorBody } from './http/api-error.ts';
import { healthCheck } from './http/health-check.ts';
import { DailyCounts } from './http/daily-counts.ts';
import { requestLogger } from './http/request-logger.ts';
import { discardUnreadBody } from './http/unread-body.ts';
import { refuseCrossSite } from './http/same-origin.ts';
import { isStorageFull } from './http/storage-full.ts';
import { clientGone } from './http/client-gone.ts';
import { BodyAbortedError } from './http/read-body.ts';
import { securityHeaders } from './http/security-headers.ts';
import { serveStatic, type StaticFiles } from './http/static-files.ts';
import { journalistApi } from './journalist/api.ts';
import { AuditLog } from './store/audit-log.ts';
import { sourceApi } from './source/api.ts';
import { PageAssets, providePageAssets, type Release } from './source/page-assets.ts';
import { pageContext, sourcePages } from './source/pages.ts';
import { RELEASE_VERSION } from './release.ts';
import { messagePage } from './source/views.ts';
import { JournalistStore } from './store/journalist-store.ts';
import { ManifestStore } from './store/manifest-store.ts';
import { TipStore } from './store/tip-store.ts';
import { ReplyStore } from './store/reply-store.ts';
import { SourceSessions } from './source/sessions.ts';
import { PowGuard, type PowOptions } from './abuse/pow-guard.ts';
import { NoJsBudget } from './abuse/no-js-budget.ts';
import type { NoJsRefusals } from './abuse/no-js-refusals.ts';
import { FormTokens } from './abuse/form-tokens.ts';
import { AuthThrottle } from './abuse/auth-throttle.ts';
import { LoginThrottle } from './abuse/login-throttle.ts';
import { openBlobStore, type BlobStore } from './uploads/blobs.ts';
import { UploadStore } from './uploads/upload-store.ts';
import { uploadApi } from './uploads/upload-api.ts';
import { UploadQuota } from './uploads/upload-quota.ts';
import { TipIntake } from './tip-intake.ts';

export type AppOptions = {
  /** Where attachment ciphertext is kept (`<data>/blobs`) on SQLite; on PostgreSQL it is in the database. */
  blobDir: string;
  /** The blob store over `blobDir`, when the caller has opened it already (opening it sweeps leftovers). */
  blobs?: BlobStore;
  /** Days tips are kept (0 = forever); journalists are told, so fetch can warn before deletion. */
  retentionDays?: number;
  /** Proof-of-work settings; `baseDifficulty: 0` turns the work off (tests, benchmarks). */
  pow?: Partial<Omit<PowOptions, 'clock'>>;
  db: TiplineDb;
  newsroomPublicKey: Uint8Array;
  staticFiles: StaticFiles;
  limits?: Partial<Limits>;
  /** Earlier newsroom keys (from config.json), shown on the landing page. */
  previousFingerprints?: { fingerprint: string; until: string }[];
  onion?: string | undefined;
  /** The release the source pages' footer shows; without it, package.json's version alone. */
  release?: Release;
  /** Where log lines go. They never hold client data, and nothing per source request; see request-logger.ts. */
  log?: (line: string) => void;
  /** Where source requests are counted, for the one line a day (daily-counts.ts); `serve` prints it. */
  counts?: DailyCounts;
  /** Where the no-JavaScript budgets' refusals are written per day, for `admin doctor`; `serve` flushes it. Without it, only the daily line counts them. */
  refusals?: NoJsRefusals;
  clock?: () => Date;
  /** Free bytes on the data folder's disk (tests); by default statfs on `blobDir`'s folder, on SQLite only. */
  freeBytes?: () => Promise<number>;
};

export async function createApp(options: AppOptions): Promise<Hono> {
  const log = options.log ?? (() => {});
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const tips = new TipStore(options.db, options.clock);
  const journalists = new JournalistStore(options.db);
  const recipients = new CurrentRecipients(new ManifestStore(options.db), options.newsroomPublicKey, options.clock);
  const intake = new TipIntake(tips, recipients, limits.maxAttachmentBytesPerTip);
  const uploads = new UploadStore(options.db, options.blobs ?? (await openBlobStore(options.db, options.blobDir)));
  const replies = new ReplyStore(options.db, options.clock);
  const sessions = new SourceSessions();
  const logins = new LoginThrottle({ perHour: limits.maxLoginsPerThreadPerHour }, () => (options.clock?.() ?? new Date()).getTime());
  const pow = await PowGuard.open(options.db, { ...options.pow, ...(options.clock ? { clock: options.clock } : {}) });
  const counts = options.counts ?? new DailyCounts();
  const noJs = new NoJsBudget(
    {
      tips: { capacity: limits.noJsBurst, refillPerMinute: limits.noJsPerMinute },
      followups: { capacity: limits.noJsFollowupBurst, refillPerMinute: limits.noJsFollowupsPerMinute },
      refusals: options.refusals,
    },
    counts,
  );
  const formTokens = await FormTokens.open(options.db, { minSeconds: limits.noJsFormMinSeconds, maxSeconds: limits.noJsFormMaxSeconds, ...(options.clock ? { clock: options.clock } : {}) });

  // Subresource Integrity values come from the very bytes served below.
  const pageAssets = PageAssets.from(options.staticFiles, options.release ?? { version: RELEASE_VERSION });

  const app = new Hono();
  app.use('*', providePageAssets(pageAssets));
  app.use('*', securityHeaders({ onion: options.onion }));
  app.use('*', requestLogger({ log, counts }));
  app.use('*', discardUnreadBody());
  app.use('*', refuseCrossSite({ onion: options.onion }));
  app.get('/healthz', healthCheck(options.db));

  const quota = UploadQuota.fromLimits(options.db, limits, { dataDir: dirname(options.blobDir), freeBytes: options.freeBytes, clock: options.clock });
  app.route('/api/v1/uploads', uploadApi({ uploads, recipients, pow, limits, quota }));
  app.route('/api/v1', sourceApi({ recipients, intake, replies, sessions, logins, pow, tips, limits }));
  app.route('/api/v1/journalist', journalistApi({ journalists, tips, replies, recipients, sessions, uploads, limits, throttle: new AuthThrottle(), retentionDays: options.retentionDays, audit: new AuditLog(options.db) }));
  app.get('/static/*', serveStatic(options.staticFiles));
  app.route('/', sourcePages({ newsroomPublicKey: options.newsroomPublicKey, intake, recipients, replies, sessions, logins, tips, noJs, formTokens, limits, previousFingerprints: options.previousFingerprints }));

  app.notFound((c) => {
    if (isApi(c.req.path)) return c.json(errorBody('not-found', 'No such endpoint.'), 404);
    const ctx = pageContext(c);
    return c.html(messagePage(ctx, ctx.t('error.heading'), ctx.t('error.notFound')), 404);
  });

  app.onError((err, c) => {
    let status = 500;
    let code = 'internal';
    let message = 'The server could not handle this request. Nothing was stored.';
    if (err instanceof BodyAbortedError || clientGone(c)) {
      // The client left mid-body: nobody reads this answer, and it is not the server's fault (not counted as an error).
      ({ status, code, message } = new BodyAbortedError());
    } else if (isStorageFull(err)) {
      // Checked before ApiError: a store may wrap a full disk in its own error.
      status = 503;
      code = 'storage-full';
      message = pageContext(c).t('storage.full');
    } else if (err instanceof ApiError) {
      ({ status, code, message } = err);
      if (code === 'cross-site') message = pageContext(c).t('crossSite.text');
    } else if (err instanceof ManifestUnavailableError) {
      status = 503;
      code = 'unavailable';
      message = 'The tip line is temporarily unavailable: journalist keys need to be renewed. Nothing was sent.';
    } else if (err instanceof HTTPException && err.status < 500) {
      status = err.status;
      code = 'bad-request';
      message = 'The request could not be read.';
    }
    // Unexpected errors are reported by requestLogger (c.error): counted for the day on source routes, at once on journalist ones.
    if (isApi(c.req.path)) return c.json(errorBody(code, message), status as 400);
    const ctx = pageContext(c);
    if (code === 'storage-full') return c.html(messagePage(ctx, ctx.t('storage.heading'), message), 503);
    if (code === 'cross-site') return c.html(messagePage(ctx, ctx.t('crossSite.heading'), message), 403);
    return c.html(messagePage(ctx, ctx.t('error.heading'), status >= 500 ? ctx.t('error.generic') : message), status as 400);
  });

  return app;
}

function isApi(path: string): boolean {
  return path.startsWith('/api/');
}
