/**
 * The `tipline` executable. Every failure ends as one clear line on stderr and
 * a non-zero exit: 2 for a usage mistake, 1 for anything else. Never a stack trace.
 */
import { journalistCommand, JOURNALIST_USAGE } from '../client/journalist/cli.ts';
import { printable } from '../client/journalist/printable.ts';
import { verifyCommand, VERIFY_USAGE } from '../client/verify/cli.ts';
import { NO_JS_SETTINGS, serveSettings } from '../server/config.ts';
import { adminCommand, ADMIN_USAGE } from '../server/cli/admin.ts';
import { describeDatabaseUrl } from '../server/db/postgres.ts';
import { parseOptions, takeOption, UsageError } from './args.ts';
import { demoCommand } from '../server/cli/demo.ts';
import { startServer, type RunningServer } from '../server/cli/serve.ts';

const HELP = `tipline: a secure, privacy-preserving tip line.

Usage:
  tipline serve [--data DIR] [--database-url URL] [--port N] [--host ADDR] [--onion ADDRESS.onion]
                [--retention-days N] [--pow-difficulty BITS]
                [--no-js-burst N] [--no-js-per-minute N] [--no-js-followup-burst N] [--no-js-followups-per-minute N]
                [--no-js-form-wait SECONDS]
      Run the server. Defaults: --data $TIPLINE_DATA or ./data, --database-url
      $DATABASE_URL or none (SQLite in DIR; postgres://… for several instances,
      see docs/deploy.md), --port $PORT or 8080,
      --host $HOST or 127.0.0.1, --onion $TIPLINE_ONION, --retention-days
      $TIPLINE_RETENTION_DAYS or 90 (0 = keep forever), --pow-difficulty
      $TIPLINE_POW_DIFFICULTY or 16. The no-JavaScript budgets (first tips,
      then follow-ups: posts at once, and more each minute) default to
      30 and 2 each ($TIPLINE_NO_JS_BURST, $TIPLINE_NO_JS_PER_MINUTE,
      $TIPLINE_NO_JS_FOLLOWUP_BURST, $TIPLINE_NO_JS_FOLLOWUPS_PER_MINUTE); a
      no-JavaScript form is accepted --no-js-form-wait ($TIPLINE_NO_JS_FORM_WAIT)
      or 3 seconds after it was loaded at the earliest.
  tipline demo [--port N]
      A throwaway tip line with a demo journalist, in a temporary folder.

${ADMIN_USAGE}

${JOURNALIST_USAGE}

${VERIFY_USAGE}

  tipline --help`;

export async function main(argv: string[]): Promise<number> {
  // Everything tipline writes (database, WAL, attachments, backups, decrypted
  // tips) is for its owner only, whatever umask the shell or container left.
  process.umask(0o077);
  // `tipline … | head` closes the pipe early: stop quietly instead of printing a stack trace.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
  });
  const out = (line: string) => process.stdout.write(`${line}\n`);
  // The journalist and verify tools print what a server or a source wrote: no terminal controls in it.
  const shown = (line: string) => out(printable(line, { multiLine: true }));
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        out(HELP);
        return command === undefined ? 2 : 0;
      case 'serve': {
        const o = parseOptions(
          rest,
          {
            data: { type: 'string' },
            'database-url': { type: 'string' },
            port: { type: 'string' },
            host: { type: 'string' },
            onion: { type: 'string' },
            'retention-days': { type: 'string' },
            'pow-difficulty': { type: 'string' },
            ...Object.fromEntries(NO_JS_SETTINGS.map(([flag]) => [flag, { type: 'string' } as const])),
          },
          HELP,
        );
        let settings;
        try {
          settings = serveSettings(o, process.env);
        } catch (e) {
          throw new UsageError((e as Error).message);
        }
        const server = await startServer({ ...settings, log: (l) => process.stderr.write(`${l}\n`) });
        const database = settings.databaseUrl ? `, database: ${describeDatabaseUrl(settings.databaseUrl)}` : '';
        out(`tipline is listening on ${server.url} (data: ${settings.dataDir}${database})`);
        await untilStopped(server);
        return 0;
      }
      case 'demo':
        await untilStopped(await demoCommand(rest, out));
        return 0;
      case 'admin': {
        // Every admin command takes it; the rest of tipline reads it from the environment (data-dir.ts).
        const databaseUrl = takeOption(rest, 'database-url');
        if (databaseUrl) process.env.DATABASE_URL = databaseUrl;
        await adminCommand(rest, out);
        return 0;
      }
      case 'verify':
        return await verifyCommand(rest, shown);
      case 'journalist':
        await journalistCommand(rest, shown);
        return 0;
      default:
        throw new UsageError(`unknown command "${command}"\n\n${HELP}`);
    }
  } catch (e) {
    const error = e as Error;
    process.stderr.write(`tipline: ${printable(error.message ?? String(e), { multiLine: true })}\n`);
    return error instanceof UsageError ? 2 : 1;
  }
}

function untilStopped(server: RunningServer): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      server.close().then(resolve, resolve);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
