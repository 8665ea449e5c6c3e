/**
 * `tipline serve`: runs the server on a data directory. Listens on 127.0.0.1
 * unless told otherwise (the onion service, or a reverse proxy, sits in front).
 *
 * @example
 * const server = await startServer({ dataDir: 'data', port: 8080, host: '127.0.0.1', log: console.log });
 * await server.close();
 */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { createApp } from '../app.ts';
import { DEFAULT_LIMITS, type Limits, type ServeSettings } from '../config.ts';
import { openBlobStore } from '../uploads/blobs.ts';
import { UploadStore } from '../uploads/upload-store.ts';
import { readDataDir } from '../data-dir.ts';
import { openDatabase } from '../db/open-database.ts';
import { loadStaticFiles } from '../http/static-files.ts';
import { publicDir } from '../../cli/paths.ts';
import { readRelease } from '../release.ts';
import { ManifestStore } from '../store/manifest-store.ts';
import { daysBetween, utcDay } from '../../crypto/day.ts';
import { DEFAULT_POW } from '../abuse/pow-guard.ts';
import { DEFAULT_RETENTION_DAYS, startRetentionJob } from '../retention.ts';
import { DailyCounts, startDailyCountsLog } from '../http/daily-counts.ts';
import { startDailyMaintenance } from '../admin/maintain.ts';
import { NoJsRefusals } from '../abuse/no-js-refusals.ts';

export type RunningServer = { url: string; port: number; close: () => Promise<void> };

export type StartOptions = Omit<ServeSettings, 'retentionDays' | 'powDifficulty' | 'limits'> &
  Partial<Pick<ServeSettings, 'retentionDays' | 'powDifficulty'>> & {
    log: (line: string) => void;
    limits?: Partial<Limits>;
    /** Slow-client cut-offs, in ms (tests shorten them). */
    timeouts?: { headers?: number; request?: number; keepAlive?: number };
  };

/** Slow-client cut-offs, in ms. */
export const DEFAULT_TIMEOUTS = { headers: 20_000, request: 300_000, keepAlive: 5_000 };

/**
 * Node's HTTP server options. Cut off slow clients (slowloris) without hurting a
 * slow Tor circuit: headers must arrive within `headers` ms, a whole request
 * within `request` ms (long enough for a slow Tor circuit), checked every second.
 * Exported so the benchmark's bare baseline runs on the same server setup.
 */
export function httpServerOptions(timeouts: typeof DEFAULT_TIMEOUTS) {
  return {
    headersTimeout: timeouts.headers,
    requestTimeout: timeouts.request,
    keepAliveTimeout: timeouts.keepAlive,
    connectionsCheckingInterval: Math.min(1000, timeouts.headers),
  };
}

export async function startServer(settings: StartOptions): Promise<RunningServer> {
  const dir = await readDataDir(settings.dataDir, settings);
  const db = await openDatabase(dir.database);
  const staticFiles = await loadStaticFiles(publicDir()).catch(() => {
    throw new Error('the browser assets are missing; run: npm run build');
  });
  const latest = await new ManifestStore(db).latest();
  if (!latest) settings.log('warning: no journalists yet, so tips cannot be accepted. Add one with: tipline admin journalist add');
  else {
    const left = daysBetween(utcDay(), latest.manifest.expires);
    if (left < 0) settings.log(`warning: the manifest expired on ${latest.manifest.expires}; sources cannot send tips until an admin publishes a new one`);
    else if (left < 14) settings.log(`warning: the manifest expires in ${left} days (${latest.manifest.expires}); publish a new one soon`);
  }
  // One store for the app and the clean-up job: opening one sweeps what a crash left behind.
  const blobs = await openBlobStore(db, dir.blobDir);
  // No line per source request (it would be timestamped); one line of counts per UTC day instead.
  const counts = new DailyCounts();
  const stopCounts = startDailyCountsLog(counts, settings.log);
  // The no-JavaScript budgets' refusals, per day, for admin doctor: written at most once a minute, and at shutdown.
  const refusals = new NoJsRefusals(db);
  const stopRefusals = refusals.start();
  const app = await createApp({
    db,
    counts,
    refusals,
    blobDir: dir.blobDir,
    blobs,
    retentionDays: settings.retentionDays ?? DEFAULT_RETENTION_DAYS,
    newsroomPublicKey: dir.newsroomPublicKey,
    staticFiles,
    release: await readRelease(),
    onion: settings.onion,
    previousFingerprints: dir.config.previousNewsroomKeys?.map((p) => ({ fingerprint: p.fingerprint, until: p.until })),
    log: settings.log,
    limits: settings.limits,
    pow: { baseDifficulty: settings.powDifficulty ?? DEFAULT_POW.baseDifficulty },
  });
  const janitor = new UploadStore(db, blobs);
  const stopRetention = startRetentionJob(db, {
    retentionDays: settings.retentionDays ?? DEFAULT_RETENTION_DAYS,
    log: settings.log,
    // Unclaimed uploads go after a few hours (counted in sweeps, not stored times), then whatever else no tip holds.
    sweepBlobs: async () => {
      const limits = { ...DEFAULT_LIMITS, ...settings.limits };
      return (await janitor.expireUnclaimed(limits.unclaimedUploadHours)) + (await janitor.sweep(limits.unclaimedUploadMs));
    },
  });
  // After each UTC midnight: rebuild the file so page order no longer follows arrival, empty the WAL (maintain.ts).
  const stopMaintenance = startDailyMaintenance(db, {
    blobs,
    retentionDays: settings.retentionDays ?? DEFAULT_RETENTION_DAYS,
    unclaimedUploadMs: { ...DEFAULT_LIMITS, ...settings.limits }.unclaimedUploadMs,
    log: settings.log,
  });
  const timeouts = { ...DEFAULT_TIMEOUTS, ...settings.timeouts };
  const { server, port } = await new Promise<{ server: ReturnType<typeof serve>; port: number }>((resolve, reject) => {
    const s = serve(
      {
        fetch: app.fetch,
        port: settings.port,
        hostname: settings.host,
        serverOptions: httpServerOptions(timeouts),
      },
      (info: AddressInfo) => resolve({ server: s, port: info.port }),
    );
    s.once('error', reject);
  });
  const host = settings.host.includes(':') ? `[${settings.host}]` : settings.host;
  return {
    url: `http://${host}:${port}`,
    port,
    close: async () => {
      stopRetention();
      stopCounts();
      stopMaintenance();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await stopRefusals().catch((e: Error) => settings.log(`warning: the no-JavaScript refusals of the last minute were not saved (${e.name})`));
      await db.destroy();
    },
  };
}
