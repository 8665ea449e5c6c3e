/**
 * Server settings: where to listen, limits, and the optional onion address.
 * Read from flags first, then environment variables, then defaults (DESIGN.md's
 * `--data`/`TIPLINE_DATA`, `--port`/`PORT`, `--host`/`HOST` contract).
 */
export type Limits = {
  /** Largest tip ciphertext accepted, in bytes. */
  maxTipBytes: number;
  /** Longest message, in characters (both the browser and the no-JavaScript form). */
  maxMessageChars: number;
  /** Largest page the journalist API returns. */
  maxPageSize: number;
};

export const DEFAULT_LIMITS: Limits = {
  maxTipBytes: 2 * 1024 * 1024,
  maxMessageChars: 100_000,
  maxPageSize: 500,
};

export type ServeSettings = {
  dataDir: string;
  port: number;
  host: string;
  onion?: string | undefined;
};

export function serveSettings(flags: { data?: string; port?: string; host?: string; onion?: string }, env: NodeJS.ProcessEnv): ServeSettings {
  const port = Number(flags.port ?? env.PORT ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`--port must be a port number, got ${flags.port ?? env.PORT}`);
  return {
    dataDir: flags.data ?? env.TIPLINE_DATA ?? './data',
    port,
    host: flags.host ?? env.HOST ?? '127.0.0.1',
    onion: flags.onion ?? env.TIPLINE_ONION ?? undefined,
  };
}
