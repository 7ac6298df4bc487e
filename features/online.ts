import os from 'node:os';
import { derivePool, type Pool, type Queryable } from '../core/db.ts';
import type { Catalog } from './catalog.ts';
import { featureStatement, formFor, PER_ACCOUNT_MAX, utcMidnightOf, type FeatureStatement, type StatementForm } from './compile.ts';

/** Where an account stands at the as-of time: a paying customer, on a trial, a former customer, or never one. */
export type AccountStatus = 'active' | 'trial' | 'churned' | 'never_subscribed';

/** One account's features as of a time, with the account facts a score needs. */
export interface AccountFeatures {
  /** feature values in catalogue order */
  values: (number | null)[];
  /** the same values keyed by feature name */
  row: Record<string, number | null>;
  /** source.accounts.segment */
  segment: string;
  createdAt: Date;
  status: AccountStatus;
}

/** Reads features for accounts as of a time, keyed by account; accounts that did not exist then (or at all) are absent. */
export interface FeatureReader {
  featureSetVersion: string;
  read(accountIds: readonly string[], asOf: Date): Promise<Map<string, AccountFeatures>>;
}

interface StatementRow {
  account_id: string;
  feature_values: (number | null)[];
  segment: string;
  created_at: Date;
  status: AccountStatus;
  rollup_valid?: boolean;
}

/** The one-date statements of a catalogue, compiled once per form (about 0.2 ms each time otherwise). */
function statements(catalog: Catalog): (form: StatementForm) => FeatureStatement {
  const byName = new Map<string, FeatureStatement>();
  return (form) => {
    const key = `${form.population}/${form.grouping}/${form.events}`;
    let stmt = byName.get(key);
    if (!stmt) byName.set(key, (stmt = featureStatement(catalog, form)));
    return stmt;
  };
}

function toFeatures(catalog: Catalog, r: StatementRow): AccountFeatures {
  const row: Record<string, number | null> = {};
  for (let i = 0; i < catalog.names.length; i++) row[catalog.names[i]] = r.feature_values[i] ?? null;
  return { values: r.feature_values, row, segment: r.segment, createdAt: r.created_at, status: r.status };
}

/**
 * Runs the one-date statement for `accountIds` (a prepared statement, named per form). As of a UTC
 * midnight it reads the event rollup (about half the PostgreSQL CPU of the raw events), unless the
 * statement's own snapshot says the rollup is suspended by a bulk load: then the raw events.
 */
async function runStatement(db: Queryable, statement: (form: StatementForm) => FeatureStatement, catalog: Catalog, accountIds: readonly string[], asOf: Date,
  opts: { requireActive?: boolean; events?: 'auto' | 'raw' }): Promise<Map<string, AccountFeatures>> {
  const out = new Map<string, AccountFeatures>();
  if (accountIds.length === 0) return out;
  let form = formFor(accountIds.length, asOf, opts);
  let rows = await runForm(db, statement(form), accountIds, asOf);
  if (form.events === 'rollup' && !rows.every((r) => r.rollup_valid)) {
    form = { ...form, events: 'raw' };
    rows = await runForm(db, statement(form), accountIds, asOf);
  }
  for (const r of rows) out.set(r.account_id, toFeatures(catalog, r));
  return out;
}

/** Runs one form as a named prepared statement (planned once per connection). */
async function runForm(db: Queryable, stmt: FeatureStatement, accountIds: readonly string[], asOf: Date): Promise<StatementRow[]> {
  const res = await (db as Pool).query<StatementRow>({ name: stmt.name, text: stmt.text, values: stmt.values(asOf, accountIds) });
  return res.rows;
}

/**
 * One read of features for a few accounts as of a time, on any connection or pool (notebooks,
 * evaluation, tests). Accounts without an active subscription at `asOf` are absent unless
 * `requireActive` is false; accounts created at or after `asOf` are absent either way.
 */
export function readFeatures(db: Queryable, catalog: Catalog, accountIds: readonly string[], asOf: Date, opts: { requireActive?: boolean; events?: 'auto' | 'raw' } = {}): Promise<Map<string, AccountFeatures>> {
  return runStatement(db, statements(catalog), catalog, accountIds, asOf, opts);
}

export interface OnlineReaderOptions {
  /** feature statements at once (default: one per core) */
  concurrency?: number;
  /** the most accounts one coalesced statement reads; longer reads run on their own (default 64) */
  maxBatch?: number;
  /** `raw` never reads the event rollup (tests compare both) */
  events?: 'auto' | 'raw';
  /** called as each statement starts, with its account count; the function it returns, as it ends (metrics, tests) */
  onStatement?: (accounts: number) => () => void;
}

export interface OnlineReader extends FeatureReader {
  /** opens every connection and prepares every form of the statement, so the first scores are not the slow ones */
  warm(): Promise<void>;
  /** resolves once no read is queued or running */
  idle(): Promise<void>;
  /** ends the reader's connections (after `idle()` at shutdown) */
  close(): Promise<void>;
}

interface Waiting {
  ids: readonly string[];
  resolve: (rows: Map<string, AccountFeatures>) => void;
  reject: (err: unknown) => void;
}

/**
 * The API's feature reader for account scores. It owns:
 * - its connections (`concurrency` + 1 for a long read beside them), kept open, each session with JIT
 *   off and a generic plan (a generic plan, pruned at execution, beats re-planning this wide
 *   statement on every read; JIT costs more than it saves), so a read is one round trip;
 * - the statement forms (see `formFor`), prepared per connection;
 * - request coalescing: at most `concurrency` statements run at once; reads for the same as-of time
 *   that arrive meanwhile wait and go out together in the next statement (up to `maxBatch`
 *   accounts), so under load one statement serves many requests and at low load a request waits for
 *   nothing. Reads of more than `maxBatch` accounts (batch scoring) run on their own.
 * Every account that existed at the as-of time is returned, active or not, with its status.
 */
export function createOnlineReader(from: Pool, catalog: Catalog, opts: OnlineReaderOptions = {}): OnlineReader {
  const concurrency = opts.concurrency ?? os.availableParallelism();
  const maxBatch = opts.maxBatch ?? 64;
  const pool = derivePool(from, {
    max: concurrency + 1, applicationName: `${from.options.application_name ?? 'churnlens'} features`, idleTimeoutMillis: 0,
    settings: { jit: 'off', plan_cache_mode: 'force_generic_plan' },
  });
  const statement = statements(catalog);
  const readNow = async (ids: readonly string[], asOf: Date) => {
    const done = opts.onStatement?.(ids.length);
    try {
      return await runStatement(pool, statement, catalog, ids, asOf, { requireActive: false, events: opts.events });
    } finally {
      done?.();
    }
  };
  const queues = new Map<number, Waiting[]>(); // by as-of (ms), oldest first (insertion order)
  let running = 0;
  const idleWaiters: (() => void)[] = [];

  const settleIdle = () => {
    if (running > 0 || queues.size > 0) return;
    for (const resolve of idleWaiters.splice(0)) resolve();
  };
  const drain = () => {
    while (running < concurrency && queues.size > 0) {
      const [key, queue] = queues.entries().next().value as [number, Waiting[]];
      const batch: Waiting[] = [];
      let n = 0;
      while (queue.length && (batch.length === 0 || n + queue[0].ids.length <= maxBatch)) {
        const w = queue.shift()!;
        batch.push(w);
        n += w.ids.length;
      }
      if (!queue.length) queues.delete(key);
      running++;
      readNow([...new Set(batch.flatMap((w) => w.ids))], new Date(key)).then(
        (rows) => { for (const w of batch) w.resolve(rows); },
        (err) => { for (const w of batch) w.reject(err); },
      ).finally(() => {
        running--;
        drain();
        settleIdle();
      });
    }
  };

  let closed: Promise<void> | null = null;
  return {
    featureSetVersion: catalog.version,
    read: (ids, asOf) => {
      if (ids.length > maxBatch) return readNow(ids, asOf);
      return new Promise((resolve, reject) => {
        const key = asOf.getTime();
        const queue = queues.get(key);
        if (queue) queue.push({ ids, resolve, reject });
        else queues.set(key, [{ ids, resolve, reject }]);
        drain();
      });
    },
    // every connection opened and every form planned: a round of reads for no account per form,
    // each round holding all the connections at once
    warm: async () => {
      const now = new Date();
      for (const asOf of [now, utcMidnightOf(now)]) {
        for (const ids of [[''], Array<string>(PER_ACCOUNT_MAX + 1).fill('')]) {
          await Promise.all(Array.from({ length: concurrency + 1 }, () => readNow(ids, asOf)));
        }
      }
    },
    idle: () => new Promise<void>((resolve) => {
      idleWaiters.push(resolve);
      settleIdle();
    }),
    close: () => (closed ??= pool.end()),
  };
}
