/**
 * `generate(pool, options)`: the synthetic SaaS data set, a pure function of (seed, accounts, months,
 * end), streamed into the source tables through COPY. Order: accounts (parents of every foreign key);
 * users, subscriptions, tickets, surveys, invoices and the ground truth; payment attempts; then
 * events on two parallel streams, with the events index dropped and rebuilt around the load. The run
 * is recorded in churn.generation_runs when it starts and completed only at its end, so a load the
 * process did not survive is told apart from a finished one (`unfinishedGeneration`).
 */
import { performance } from 'node:perf_hooks';
import { query, withTransaction, type Pool } from '../../core/db.ts';
import { ChurnError } from '../../core/errors.ts';
import { noProgress, type Progress } from '../../core/progress.ts';
import { simulateAccount } from './account.ts';
import { emitEvents, rhythmTable } from './activity.ts';
import { emitBilling } from './billing.ts';
import { TimeFormatter } from './calendar.ts';
import { CopySink } from './copy-sink.ts';
import { parseGenerateOptions, windowOf, type GenerateOptionsInput, type GenerationWindow } from './options.ts';
import { accountRow, emitSubscriptions, emitUsers, truthRow } from './rows.ts';
import * as sql from './sql.ts';
import { emitSurveys, emitTickets } from './support.ts';
import { refreshEventRollup, suspendEventRollup } from '../rollup.ts';

export interface GenerateResult {
  accounts: number;
  rowCounts: Record<string, number>;
  seconds: number;
  startDate: string;
  endDate: string;
  /** Seconds per phase: account tables, events, index rebuild, event rollup, analyze. */
  phases: Record<string, number>;
}

const COLUMNS = {
  accounts: ['account_id', 'name', 'segment', 'plan', 'industry', 'region', 'created_at'],
  users: ['user_id', 'account_id', 'role', 'created_at', 'deactivated_at'],
  subscriptions: ['subscription_id', 'account_id', 'plan', 'mrr', 'seats', 'billing_period', 'discount_pct', 'is_trial', 'change_type', 'started_at', 'ended_at', 'canceled_at', 'status'],
  support_tickets: ['ticket_id', 'account_id', 'opened_at', 'closed_at', 'priority', 'status', 'escalated', 'escalated_at', 'category', 'csat'],
  survey_responses: ['response_id', 'account_id', 'user_id', 'survey_type', 'score', 'responded_at', 'comment'],
  invoices: ['invoice_id', 'account_id', 'subscription_id', 'issued_at', 'due_at', 'paid_at', 'amount', 'status', 'failed_attempts'],
  payment_attempts: ['attempt_id', 'invoice_id', 'account_id', 'attempted_at', 'succeeded', 'failure_reason'],
  events: ['event_id', 'account_id', 'user_id', 'event_type', 'occurred_at', 'quantity'],
  synthetic_truth: ['account_id', 'churned', 'churned_at', 'true_driver', 'risk', 'seed'],
} as const;

type Table = keyof typeof COLUMNS;

function open(pool: Pool, table: Table, opened: CopySink[]): Promise<CopySink> {
  const schema = table === 'synthetic_truth' ? 'churn' : 'source';
  return CopySink.open(pool, schema, table, COLUMNS[table]).then((s) => {
    opened.push(s);
    return s;
  });
}

/** Loads everything except events; returns row counts. */
async function loadAccountTables(pool: Pool, w: GenerationWindow, fmt: TimeFormatter, opened: CopySink[]): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  const accounts = await open(pool, 'accounts', opened);
  for (let i = 0; i < w.accounts; i++) {
    accounts.add(accountRow(simulateAccount(w, i), fmt));
    await accounts.flushIfLarge();
  }
  counts.accounts = await accounts.finish();
  const sinks = {
    users: await open(pool, 'users', opened),
    subscriptions: await open(pool, 'subscriptions', opened),
    support_tickets: await open(pool, 'support_tickets', opened),
    survey_responses: await open(pool, 'survey_responses', opened),
    invoices: await open(pool, 'invoices', opened),
    synthetic_truth: await open(pool, 'synthetic_truth', opened),
  };
  // Attempts reference invoices, so they wait in memory until the invoices are committed (a few MB).
  const attemptChunks: string[] = [];
  let attemptChunk = '';
  let attemptRows = 0;
  const attempts = { add: (row: string) => { attemptChunk += row; attemptRows++; if (attemptChunk.length > 1 << 20) { attemptChunks.push(attemptChunk); attemptChunk = ''; } } };
  for (let i = 0; i < w.accounts; i++) {
    const life = simulateAccount(w, i);
    emitUsers(life, fmt, sinks.users);
    emitSubscriptions(life, fmt, sinks.subscriptions);
    emitTickets(w, life, fmt, sinks.support_tickets);
    emitSurveys(w, life, fmt, sinks.survey_responses);
    emitBilling(w, life, fmt, { invoices: sinks.invoices, attempts });
    sinks.synthetic_truth.add(truthRow(w, life, fmt));
    for (const s of Object.values(sinks)) await s.flushIfLarge();
  }
  for (const [table, s] of Object.entries(sinks)) counts[table] = await s.finish();
  attemptChunks.push(attemptChunk);
  const pay = await open(pool, 'payment_attempts', opened);
  for (const chunk of attemptChunks) {
    pay.add(chunk);
    await pay.flush();
  }
  await pay.finish();
  counts.payment_attempts = attemptRows;
  return counts;
}

/** Streams the events on two connections (even and odd accounts); returns the row count. */
async function loadEvents(pool: Pool, w: GenerationWindow, fmt: TimeFormatter, progress: Progress, opened: CopySink[]): Promise<number> {
  const rhythm = rhythmTable(w);
  const streams = [await open(pool, 'events', opened), await open(pool, 'events', opened)];
  let nextId = 1;
  progress.start(w.accounts, 'accounts');
  for (let i = 0; i < w.accounts; i++) {
    const life = simulateAccount(w, i);
    const sink = streams[i % 2];
    nextId = emitEvents(w, life, rhythm, fmt, sink, nextId);
    await sink.flushIfLarge();
    progress.increment();
  }
  await Promise.all(streams.map((s) => s.finish()));
  progress.stop();
  return nextId - 1;
}

/** Empties the source tables (`replace`) or checks that they are empty, and records the run as started, in one transaction. */
async function prepare(pool: Pool, replace: boolean, run: { seed: number; accounts: number; months: number; startDate: string; endDate: string }): Promise<number> {
  if (!replace) {
    const [row] = await query<{ present: boolean }>(pool, sql.sourceHasAccounts());
    if (row.present) {
      const unfinished = await unfinishedGeneration(pool);
      throw new ChurnError('CHURN_ERR_DATABASE_NOT_EMPTY', unfinished
        ? 'source.accounts holds part of a generation that did not finish; pass --replace to truncate the source tables and generate anew'
        : 'source.accounts already holds data; pass --replace to truncate the source tables and generate anew');
    }
  }
  return withTransaction(pool, async (client) => {
    if (replace) await client.query(sql.truncateGenerated().text);
    const [{ run_id }] = await query<{ run_id: number }>(client, sql.insertStartedRun(run));
    return run_id;
  });
}

/** The options of a generation that started and did not finish (see `unfinishedGeneration`). */
export interface UnfinishedGeneration {
  /** as recorded when it started; undefined for a load left before runs were recorded at their start */
  options?: { accounts: number; months: number; seed: number; end: string };
  /** files were ingested into the source tables after it started: regenerating would drop them */
  ingestedSince: boolean;
}

/**
 * Whether the source tables hold part of a generation the process did not survive (killed or
 * interrupted mid-load): the latest run was never completed, or (data left before runs were recorded
 * at their start) the tables hold generated accounts and ground truth with no run and no ingest recorded.
 */
export async function unfinishedGeneration(pool: Pool): Promise<UnfinishedGeneration | null> {
  const [row] = await query<{ latest: { seed: number; accounts: number; months: number; end_date: string; unfinished: boolean } | null; has_accounts: boolean; has_truth: boolean; ingested_since: boolean }>(pool, sql.generationState());
  const { latest } = row;
  if (latest?.unfinished) {
    return { options: { accounts: latest.accounts, months: latest.months, seed: Number(latest.seed), end: latest.end_date }, ingestedSince: row.ingested_since };
  }
  if (!latest && row.has_accounts && row.has_truth && !row.ingested_since) return { ingestedSince: false };
  return null;
}

/**
 * Generates the data set into `pool`'s database. Refuses a database whose source.accounts is not
 * empty unless `replace` is set. On failure, the rows loaded so far are removed again.
 */
export async function generate(pool: Pool, input: GenerateOptionsInput, progress: Progress = noProgress): Promise<GenerateResult> {
  const opts = parseGenerateOptions(input);
  const w = windowOf(opts);
  const t0 = performance.now();
  const fmt = new TimeFormatter();
  const startDate = fmt.date(w.startDay);
  const endDate = fmt.date(w.endDay);
  const runId = await prepare(pool, opts.replace, { seed: w.seed, accounts: w.accounts, months: w.months, startDate, endDate });
  const opened: CopySink[] = [];
  const phases: Record<string, number> = {};
  let mark = performance.now();
  const lap = (name: string) => {
    const now = performance.now();
    phases[name] = Math.round(now - mark) / 1000;
    mark = now;
  };
  let rowCounts: Record<string, number>;
  try {
    await query(pool, sql.upsertEventTypes());
    rowCounts = await loadAccountTables(pool, w, fmt, opened);
    lap('account_tables');
    rowCounts.event_types = (await query(pool, 'SELECT count(*)::int AS n FROM source.event_types'))[0].n as number;
    await query(pool, sql.ensureEventPartitions(new Date(w.startMs), new Date(w.endMs)));
    if (opts.dropEventIndex) await query(pool, sql.dropEventsIndex());
    // the event rollup is refreshed in one pass after the load rather than per COPY statement
    await suspendEventRollup(pool);
    try {
      rowCounts.events = await loadEvents(pool, w, fmt, progress, opened);
      lap('events');
    } finally {
      if (opts.dropEventIndex) await rebuildEventsIndex(pool);
    }
    lap('index');
    await refreshEventRollup(pool);
    lap('rollup');
  } catch (err) {
    progress.stop();
    for (const s of opened) s.abort(err as Error);
    await query(pool, sql.truncateGenerated()).catch(() => undefined);
    await refreshEventRollup(pool, { shards: 1 }).catch(() => undefined); // triggers back on (the rollup of no events is empty)
    await query(pool, sql.deleteRun(runId)).catch(() => undefined); // nothing of it is left
    throw err;
  }
  await query(pool, sql.vacuumGenerated());
  lap('vacuum');
  const seconds = Math.round((performance.now() - t0) / 10) / 100;
  // the last step: from here on the data set counts as complete
  await query(pool, sql.completeRun(runId, { rowCounts, seconds }));
  return { accounts: w.accounts, rowCounts, seconds, startDate, endDate, phases };
}

/** Rebuilds the events index with more sort memory than the default, on one connection. */
async function rebuildEventsIndex(pool: Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query("SET maintenance_work_mem = '256MB'");
    await client.query(sql.createEventsIndex().text);
  } finally {
    await client.query('RESET maintenance_work_mem').catch(() => undefined);
    client.release();
  }
}
