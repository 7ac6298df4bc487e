import fs from 'node:fs/promises';
import path from 'node:path';
import { ConfigSchema, loadConfig, type Config } from '../core/config.ts';
import { createPool, resolveDatabase, type Pool } from '../core/db.ts';
import { asChurnError, ChurnError, describeIssues, plainIssue } from '../core/errors.ts';
import { createLogger, type Logger } from '../core/log.ts';
import { migrate } from '../features/migrate.ts';
import { onExit } from './lifecycle.ts';
import type { z } from 'zod';

export interface CliContext {
  config: Config;
  pool: Pool;
  log: Logger;
  databaseUrl: string;
}

/**
 * Opens the database (DATABASE_URL or the embedded server), migrates it, runs `fn`, and closes
 * everything again, also when `fn` throws or the process is stopped by a signal (cli/lifecycle.ts).
 * The embedded server is stopped only if this process started it.
 */
export async function withDatabase<T>(fn: (ctx: CliContext) => Promise<T>, opts: { migrate?: boolean; keepOpen?: boolean } = {}): Promise<T> {
  const config = loadConfig();
  const log = createLogger(config.CHURN_LOG_LEVEL);
  let pool: Pool | undefined;
  let stopEmbedded: (() => Promise<void>) | undefined;
  // registered before the embedded server starts, so that a signal during its start stops it too;
  // on a signal, stopping the server ends the pool's queries, so both run at once
  const forget = onExit(async () => {
    await Promise.all([pool?.end(), stopEmbedded?.()]);
  });
  const close = async () => {
    forget();
    await pool?.end().catch(() => undefined);
    await stopEmbedded?.().catch(() => undefined);
  };
  try {
    const db = await resolveDatabase({
      databaseUrl: config.DATABASE_URL, home: config.home, embeddedPort: config.CHURN_EMBEDDED_PORT,
      log: (m) => log.debug({ pg: m }), onStarting: (stop) => { stopEmbedded = stop; },
    });
    // (the API's account-score feature statements run on connections of their own: see createFeatureReader)
    const ready = createPool(db.url);
    pool = ready;
    await ready.query('SELECT 1').catch((err: unknown) => {
      throw new ChurnError('CHURN_ERR_DATABASE', `cannot reach PostgreSQL: ${(err as Error).message}`, { cause: err });
    });
    if (opts.migrate !== false) await migrate(ready);
    const out = await fn({ config, pool: ready, log, databaseUrl: db.url });
    if (!opts.keepOpen) await close();
    return out;
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * Validates parsed CLI options with a zod schema; failures become one clear CHURN_ERR_VALIDATION line.
 * A number option given other text names that text ("seed: expected a number, got "abc"", not zod's
 * "received NaN", which is what the text became; "expected a whole number, got "1.5""), and an option
 * of several words is named by its flag (--as-of, where commander's key is asOf).
 */
export function parseOptions<S extends z.ZodType>(schema: S, raw: unknown): z.infer<S> {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const given = raw !== null && typeof raw === 'object' ? (raw as Record<PropertyKey, unknown>) : {};
    const issues = parsed.error.issues.map((i) => {
      const value = i.path.length === 1 ? given[i.path[0]] : undefined;
      const plain = plainIssue(i, value);
      const issue = plain === i || typeof value !== 'string' ? plain : { ...plain, message: `${plain.message}, got ${JSON.stringify(value)}` };
      // a camelCase key is an option commander named from its flag: say the flag (--as-of, not asOf)
      const [key, ...rest] = issue.path;
      return typeof key === 'string' && /[A-Z]/.test(key) ? { ...issue, path: [`--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, ...rest] } : issue;
    });
    throw new ChurnError('CHURN_ERR_VALIDATION', describeIssues(issues));
  }
  return parsed.data;
}

/** Whether two paths name one file: the same inode when both exist, else the same absolute path. */
async function sameFile(a: string, b: string): Promise<boolean> {
  const [sa, sb] = await Promise.all([fs.stat(a).catch(() => null), fs.stat(b).catch(() => null)]);
  if (sa && sb) return sa.dev === sb.dev && sa.ino === sb.ino;
  return path.resolve(a) === path.resolve(b);
}

/**
 * Fails fast, before a command spends minutes on what it would write to `file` (given as `flag`),
 * when it cannot or must not be written: its folder is missing or not writable, it is a directory
 * (CHURN_ERR_IO), or it is one of the command's `inputs` (CHURN_ERR_VALIDATION: writing would
 * replace the file being read).
 */
export async function assertWritable(file: string, opts: { flag?: string; inputs?: Record<string, string | undefined> } = {}): Promise<void> {
  const flag = opts.flag ?? '--out';
  const dir = path.dirname(path.resolve(file));
  const stat = await fs.stat(dir).catch(() => null);
  if (!stat?.isDirectory()) throw new ChurnError('CHURN_ERR_IO', `cannot write ${file}: the folder ${dir} does not exist`);
  await fs.access(dir, fs.constants.W_OK).catch(() => {
    throw new ChurnError('CHURN_ERR_IO', `cannot write ${file}: the folder ${dir} is not writable`);
  });
  if ((await fs.stat(file).catch(() => null))?.isDirectory()) throw new ChurnError('CHURN_ERR_IO', `${flag} ${file} is a directory; name a file to write`);
  for (const [inputFlag, input] of Object.entries(opts.inputs ?? {})) {
    if (input && (await sameFile(file, input))) throw new ChurnError('CHURN_ERR_VALIDATION', `${flag} is the input file (${inputFlag} ${input}); name another file to write`);
  }
}

/**
 * Writes `text` to `file` through a temporary file beside it, renamed over it at the end, so a
 * failed run never leaves half a file behind; on failure the temporary file is removed and the
 * error is CHURN_ERR_IO. Returns the absolute path written.
 */
export async function writeAtomic(file: string, text: string): Promise<string> {
  const target = path.resolve(file);
  const tmp = `${target}.tmp-${process.pid}`;
  try {
    await fs.writeFile(tmp, text);
    await fs.rename(tmp, target);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw new ChurnError('CHURN_ERR_IO', `cannot write ${file}: ${(err as Error).message}`, { cause: err });
  }
  return target;
}

/**
 * Prints `CODE: message` (one line) and sets a non-zero exit code. Expected failures (catalogue errors,
 * database and file-system errors: core/errors.ts `asChurnError`) print their line; anything else is a
 * bug: `CHURN_ERR_INTERNAL: message` and a hint, or the stack with CHURN_LOG_LEVEL=debug.
 */
export function reportError(err: unknown): void {
  const debug = ConfigSchema.shape.CHURN_LOG_LEVEL.safeParse(process.env.CHURN_LOG_LEVEL).data === 'debug';
  const known = asChurnError(err);
  if (known) {
    console.error(`${known.code}: ${oneLine(known.message)}`);
    if (debug && known.details) console.error(JSON.stringify(known.details, null, 2));
    if (debug && known.cause instanceof Error && known.cause.stack) console.error(known.cause.stack);
  } else if (debug) {
    console.error(`CHURN_ERR_INTERNAL: ${(err as Error)?.stack ?? String(err)}`);
  } else {
    console.error(`CHURN_ERR_INTERNAL: ${oneLine((err as Error)?.message ?? String(err))}`);
    console.error('(a bug: run with CHURN_LOG_LEVEL=debug for the stack)');
  }
  process.exitCode = 1;
}

const oneLine = (s: string) => s.replace(/\s*\n\s*/g, ' ').trim();
