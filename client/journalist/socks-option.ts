/**
 * The `--socks HOST:PORT` option of every journalist command that talks to the
 * server, else `TIPLINE_SOCKS`, else none: then an `.onion` server is refused
 * by the transport before any name lookup (http-transport.ts).
 *
 * @module
 * @example
 * const api = new JournalistApi(server, token, socksOption(o.socks));
 */
import { UsageError } from '../../cli/args.ts';
import { parseSocksProxy, type SocksProxy } from '../verify/socks5.ts';

export function socksOption(given: string | undefined): { socks?: SocksProxy } {
  const text = given ?? (process.env.TIPLINE_SOCKS || undefined);
  if (text === undefined) return {};
  try {
    return { socks: parseSocksProxy(text) };
  } catch (e) {
    throw new UsageError(given === undefined ? `TIPLINE_SOCKS: ${(e as Error).message}` : (e as Error).message);
  }
}
