/**
 * The evaluation on a customer's own event data (issue 26), dispatched from bench/eval.ts:
 *
 *   npm run eval -- --events DIR                 the four CSVs a customer has (accounts, subscriptions, event_types, events)
 *   npm run eval -- --generate N [--seed S]      first writes such a directory from a social-app simulator (bench/social-sim.ts)
 *   npm run eval -- --world N [--months M]       our own generated SaaS world (`churn generate`, features/generate/)
 *
 * Each run works in a FRESH database (created on the server of DATABASE_URL, dropped at the end even
 * after a failure; --keep-db keeps it): the files are loaded with our ingest library exactly as
 * `churn ingest` loads them (each file validated, all or nothing; the first bad file stops the run),
 * features are built over a monthly observation grid, and two feature sets are trained with the same
 * model search on the same rows and the same out-of-time split (train on earlier dates, validate on
 * the next, test on the latest):
 * - ours: the built-in catalogue plus the features `churn features config --discover` proposes
 *   for the loaded data (per event type, account attributes); with --world (or --ours builtin) the
 *   built-in catalogue alone;
 * - baseline: per event type, the count over the last 28 days, over the 28 days before, and their
 *   change (what a team would build first from an event table).
 * Options: --seed S (simulation, generation, training; 42), --months M (of data, 12), --out DIR (keep
 * the simulated files there), --models (logistic,gbdt), --horizon DAYS (30), --valid-dates N (1),
 * --test-dates N (2), --bootstrap N (200), --ours builtin|discovered, --no-attributes (simulate
 * without the attribute columns), --keep-db.
 * It prints both HELD-OUT test ROC AUCs (with bootstrap intervals), PR AUC, lift@10%, the paired
 * difference and whether ours >= baseline. Last line: one JSON object with the figures. The exit code
 * is 0 whenever the evaluation ran (the JSON says who won), 1 after an error.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { z } from 'zod';
import { createPool, ident, query, type Pool } from '../core/db.ts';
import { ChurnError, describeIssues } from '../core/errors.ts';
import { createProgress } from '../core/progress.ts';
import { catalogFromConfig, loadCatalog, type Catalog } from '../features/catalog.ts';
import { discoverFeaturesConfig, parseFeaturesConfig, slugOf } from '../features/config.ts';
import { generate } from '../features/generate/index.ts';
import { ingestFile } from '../features/ingest/ingest.ts';
import { migrate } from '../features/migrate.ts';
import { databaseTrainingSet } from '../training/run.ts';
import type { TrainingSetStats } from '../training/dataset.ts';
import { aucDifferenceSe } from '../training/select.ts';
import { createScorer } from '../training/scorer.ts';
import type { PreparedTable } from '../training/table.ts';
import { trainModel, type ModelType, type TrainResult } from '../training/train.ts';
import { simulateSocialApp } from './social-sim.ts';

/** The files of a customer's directory, in loading order (parents before children). */
export const EVENT_FILES = ['accounts', 'subscriptions', 'event_types', 'events'] as const;

const Args = z.object({
  events: z.string().min(1).optional(),
  generate: z.coerce.number().int().min(20).max(1_000_000).optional(),
  world: z.coerce.number().int().min(20).max(1_000_000).optional(),
  seed: z.coerce.number().int().min(0).default(42),
  months: z.coerce.number().int().min(4).max(60).default(12),
  out: z.string().min(1).optional(),
  models: z.string().default('logistic,gbdt').transform((s, ctx) => {
    const list = s.split(',').map((m) => m.trim()).filter(Boolean);
    if (!list.length || list.some((m) => !['logistic', 'gbdt', 'mlp'].includes(m))) {
      ctx.addIssue({ code: 'custom', message: `--models takes logistic, gbdt and/or mlp, got "${s}"` });
      return z.NEVER;
    }
    return list as ModelType[];
  }),
  horizon: z.coerce.number().int().min(1).max(365).default(30),
  'valid-dates': z.coerce.number().int().min(1).default(1),
  'test-dates': z.coerce.number().int().min(1).default(2),
  bootstrap: z.coerce.number().int().min(0).default(200),
  'keep-db': z.boolean().default(false),
  'no-attributes': z.boolean().default(false),
  /** ours: the built-in catalogue alone, or with the discovered features config (default: builtin for --world, else discovered) */
  ours: z.enum(['builtin', 'discovered']).optional(),
}).refine((a) => [a.events, a.generate, a.world].filter((v) => v !== undefined).length === 1, { message: 'give exactly one of --events DIR, --generate N or --world N' });
type Args = z.infer<typeof Args>;

const log = (m: string) => console.error(`  ${m}`);
const dayOf = (iso: string) => iso.slice(0, 10);

/** A fresh database on the server of `adminUrl`, dropped by `drop()` whatever state it is in. */
async function freshDatabase(adminUrl: string): Promise<{ name: string; pool: Pool; drop: (o?: { force?: boolean }) => Promise<void> }> {
  const name = `churn_eval_${process.pid}_${randomBytes(3).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${ident(name)}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const pool = createPool(url.toString(), { max: 6, applicationName: 'churnlens-eval' });
  // a session ended under a busy client (the forced drop after Ctrl-C) fails its query, not the process
  pool.on('connect', (client) => client.on('error', () => undefined));
  return {
    name,
    pool,
    drop: async (o = {}) => {
      // forced: not waiting for the pool's busy connections (DROP ... WITH (FORCE) ends them)
      if (!o.force) await pool.end().catch(() => undefined);
      const a = new pg.Client({ connectionString: adminUrl });
      await a.connect();
      try {
        await a.query(`DROP DATABASE IF EXISTS ${ident(name)} WITH (FORCE)`);
      } finally {
        await a.end();
      }
    },
  };
}

/** Throws CHURN_ERR_VALIDATION naming the files `dir` lacks. */
async function requireEventFiles(dir: string): Promise<void> {
  if (!(await fs.stat(dir).catch(() => null))?.isDirectory()) throw new ChurnError('CHURN_ERR_VALIDATION', `${dir}: no such directory`);
  const missing: string[] = [];
  for (const t of EVENT_FILES) if (!(await fs.stat(path.join(dir, `${t}.csv`)).catch(() => null))?.isFile()) missing.push(`${t}.csv`);
  if (missing.length) throw new ChurnError('CHURN_ERR_VALIDATION', `${dir}: missing ${missing.join(', ')} (a directory needs ${EVENT_FILES.map((t) => `${t}.csv`).join(', ')})`);
}

/** Loads the four files of `dir` with the ingest library, parents first; the first bad file stops the load. */
export async function loadEventDirectory(pool: Pool, dir: string): Promise<{ table: string; rows: number; seconds: number }[]> {
  await requireEventFiles(dir);
  const out: { table: string; rows: number; seconds: number }[] = [];
  for (const table of EVENT_FILES) {
    const r = await ingestFile(pool, table, path.join(dir, `${table}.csv`), { progress: createProgress(`ingest ${table}`, { unit: 'bytes' }) });
    log(`loaded ${table}: ${r.rows.toLocaleString('en-US')} rows in ${r.seconds.toFixed(1)}s`);
    out.push({ table, rows: r.rows, seconds: r.seconds });
  }
  return out;
}

/** The event types that have events, in name order. */
async function eventTypesWithEvents(pool: Pool): Promise<string[]> {
  const rows = await query<{ event_type: string }>(pool, 'SELECT t.event_type FROM source.event_types t WHERE EXISTS (SELECT 1 FROM source.events e WHERE e.event_type = t.event_type) ORDER BY 1');
  return rows.map((r) => r.event_type);
}

/** What each per-event-type baseline feature is: the count over the window, over the window before, and their change. */
export const BASELINE_PER_TYPE = ['count', 'prev_count', 'change'] as const;

/**
 * The two feature sets compared. Ours: the built-in catalogue plus what `churn features config
 * --discover` proposes for the loaded data (features per event type, account attributes). The
 * baseline: only per event type, BASELINE_PER_TYPE over 28 days.
 */
async function featureSets(pool: Pool, types: string[], which: 'builtin' | 'discovered'): Promise<{ ours: Catalog; oursNote: string; baseline: Catalog }> {
  const baseline = catalogFromConfig(parseFeaturesConfig({ builtIn: false, eventTypes: types, perType: [...BASELINE_PER_TYPE], windowDays: 28 }, '(baseline)'));
  if (which === 'builtin') {
    const ours = loadCatalog();
    return { ours, oursNote: `the built-in catalogue: ${ours.names.length} features (version ${ours.version})`, baseline };
  }
  const discovered = await discoverFeaturesConfig(pool);
  const ours = catalogFromConfig(discovered);
  const attrs = discovered.attributes.map((x) => `${x.name} (${x.type === 'numeric' ? 'number' : `${x.values!.length} values`})`);
  const oursNote = `built-in catalogue + discovered features config: ${discovered.eventTypes.length} event types x ${discovered.perType.length} + attributes ${attrs.length ? attrs.join(', ') : 'none'}: ${ours.names.length} features (version ${ours.version})`;
  return { ours, oursNote, baseline };
}

/**
 * A check of the baseline's counts against a direct SQL count over source.events: for every row and
 * event type, the summed quantity in [t - 28d, t) and in [t - 56d, t - 28d). Returns the cells that disagree.
 */
async function checkBaselineCounts(pool: Pool, table: PreparedTable, types: string[]): Promise<{ cells: number; mismatches: string[] }> {
  const rows = await query<{ i: number; event_type: string; cur: number; prev: number }>(pool, {
    text: `WITH r AS (SELECT (o - 1)::int AS i, a AS account_id, t AS as_of FROM unnest($1::text[], $2::timestamptz[]) WITH ORDINALITY AS u(a, t, o))
SELECT r.i, e.event_type,
  coalesce(sum(e.quantity) FILTER (WHERE e.occurred_at >= r.as_of - interval '28 days'), 0)::float8 AS cur,
  coalesce(sum(e.quantity) FILTER (WHERE e.occurred_at < r.as_of - interval '28 days'), 0)::float8 AS prev
FROM r JOIN source.events e ON e.account_id = r.account_id AND e.occurred_at >= r.as_of - interval '56 days' AND e.occurred_at < r.as_of
GROUP BY r.i, e.event_type`,
    values: [table.context!.accountId!, table.context!.asOf!],
  });
  const expected = new Map<string, number>();
  for (const r of rows) {
    expected.set(`${r.i}\u0000${r.event_type}\u0000cur`, r.cur);
    expected.set(`${r.i}\u0000${r.event_type}\u0000prev`, r.prev);
  }
  const byName = new Map(table.columns.map((c) => [c.name, c]));
  const mismatches: string[] = [];
  let cells = 0;
  for (const t of types) {
    const slug = slugOf(t);
    for (const [which, name] of [['cur', `ev_${slug}_28d`], ['prev', `ev_${slug}_prev_28d`]] as const) {
      const col = byName.get(name);
      if (!col) {
        mismatches.push(`no column ${name}`);
        continue;
      }
      for (let i = 0; i < table.ids.length; i++) {
        cells++;
        const want = expected.get(`${i}\u0000${t}\u0000${which}`) ?? 0;
        const got = (col.values[i] as number | null) ?? 0;
        if (Math.abs(got - want) > 1e-9 && mismatches.length < 5) mismatches.push(`${table.ids[i]} ${name}: ${got}, SQL count ${want}`);
      }
    }
  }
  return { cells, mismatches };
}

interface Side {
  name: string;
  features: number;
  result: TrainResult;
  testScores: Float64Array;
}

/** Probabilities of the held-out test rows, through the serving path's scorer. */
function scoreTestRows(result: TrainResult, table: PreparedTable): Float64Array {
  const scorer = createScorer(result.artifact);
  return Float64Array.from(result.splits.test, (i) => scorer.score(Object.fromEntries(table.columns.map((c) => [c.name, c.values[i]]))).probability);
}

async function trainSide(name: string, table: PreparedTable, a: Args): Promise<Side> {
  console.error(`training ${name} (${table.columns.length} features, models ${a.models.join(', ')})`);
  const result = await trainModel(table, {
    seed: a.seed, modelTypes: a.models, log, progress: (l) => createProgress(`${name}: ${l}`), bootstrap: a.bootstrap, backend: process.env.CHURN_TF_BACKEND,
  });
  if (!result.metrics.test) throw new ChurnError('CHURN_ERR_NOT_ENOUGH_DATA', `${name}: the test rows have a single class; no held-out figures (try more accounts or --test-dates)`);
  return { name, features: table.columns.length, result, testScores: scoreTestRows(result, table) };
}

function sameRows(a: PreparedTable, b: PreparedTable): boolean {
  return a.ids.length === b.ids.length && a.ids.every((id, i) => id === b.ids[i] && a.label[i] === b.label[i] && a.split[i] === b.split[i]);
}

function describeSplit(stats: TrainingSetStats): string {
  const span = (xs: string[]) => (xs.length ? (xs.length > 1 ? `${dayOf(xs[0])} .. ${dayOf(xs[xs.length - 1])}` : dayOf(xs[0])) : 'none');
  return `train ${span(stats.trainAsOfs)}, validation ${span(stats.validAsOfs)}, test ${span(stats.testAsOfs)}`;
}

function sideLine(s: Side): string {
  const t = s.result.metrics.test!;
  const ci = t.ci ? ` [${t.ci.auc.lower.toFixed(3)}, ${t.ci.auc.upper.toFixed(3)}]` : '';
  const left = s.result.excluded.constant.length + s.result.excluded.mostly_missing.length;
  return `${s.name.padEnd(8)} (${s.result.chosen}, ${s.features - left} of ${s.features} features): test ROC AUC ${t.auc.toFixed(4)}${ci}, PR AUC ${t.prAuc.toFixed(4)}, lift@10% ${t.lift10.toFixed(2)}, ECE ${t.ece.toFixed(4)} (${s.result.seconds.toFixed(1)}s)`;
}

function sideFigures(s: Side) {
  const t = s.result.metrics.test!;
  return {
    chosen: s.result.chosen, features: s.features, features_used: s.features - s.result.excluded.constant.length - s.result.excluded.mostly_missing.length, auc: t.auc, auc_ci: t.ci ? [t.ci.auc.lower, t.ci.auc.upper] : null,
    pr_auc: t.prAuc, lift10: t.lift10, ece: t.ece, brier: t.brier, valid_auc: s.result.metrics.validation.auc, seconds: s.result.seconds,
  };
}

/** The comparison on a loaded database: both feature sets, the same rows and split, the same model search. */
async function compare(pool: Pool, a: Args): Promise<Record<string, unknown>> {
  const types = await eventTypesWithEvents(pool);
  const which = a.ours ?? (a.world !== undefined ? 'builtin' : 'discovered');
  const { ours, oursNote, baseline } = await featureSets(pool, types, which);
  console.log(`  ours      ${oursNote}`);
  console.log(`  baseline  ${types.length} event types x (${BASELINE_PER_TYPE.join(', ')}) over 28 days: ${baseline.names.length} features (version ${baseline.version})`);
  const setOptions = { horizonDays: a.horizon, asOfs: 'monthly' as const, validDates: a['valid-dates'], testDates: a['test-dates'], seed: a.seed };
  const t0 = performance.now();
  const { table, stats } = await databaseTrainingSet(pool, ours, { ...setOptions, progress: createProgress('training set (ours)'), snapshotProgress: createProgress('feature snapshots (ours)') });
  const featureSeconds = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  const { table: base } = await databaseTrainingSet(pool, baseline, { ...setOptions, progress: createProgress('training set (baseline)'), snapshotProgress: createProgress('feature snapshots (baseline)') });
  const baselineSeconds = (performance.now() - t1) / 1000;
  if (!sameRows(table, base)) throw new Error(`the baseline's training set does not have the rows of ours (${base.ids.length} and ${table.ids.length} rows): the comparison needs the same rows, labels and split`);
  const check = await checkBaselineCounts(pool, base, types);
  if (check.mismatches.length) throw new Error(`the baseline's counts disagree with a direct SQL count over source.events: ${check.mismatches.join('; ')}`);
  log(`baseline counts agree with a direct SQL count over source.events on all ${check.cells.toLocaleString('en-US')} cells`);
  const churnRate = table.label.reduce((s, v) => s + v, 0) / Math.max(1, table.label.length);
  console.log(`  rows      ${table.ids.length.toLocaleString('en-US')} labelled (account, date) rows, churn rate ${(churnRate * 100).toFixed(1)}% within ${a.horizon} days; split by time: ${describeSplit(stats)}`);
  console.log(`  features  ours built in ${featureSeconds.toFixed(1)}s, baseline in ${baselineSeconds.toFixed(1)}s`);
  const oursSide = await trainSide('ours', table, a);
  const baseSide = await trainSide('baseline', base, a);
  const y = Float32Array.from(oursSide.result.splits.test, (i) => table.label[i]);
  const diff = oursSide.result.metrics.test!.auc - baseSide.result.metrics.test!.auc;
  const se = aucDifferenceSe(y, oursSide.testScores, baseSide.testScores, a.bootstrap || 200, a.seed);
  const win = diff >= 0;
  console.log(`  held out  ${y.length} test rows (${y.reduce((s, v) => s + v, 0)} churners) that no training step, early stopping, model choice or calibration saw`);
  console.log(`  ${sideLine(oursSide)}`);
  console.log(`  ${sideLine(baseSide)}`);
  console.log(`  ours - baseline: test ROC AUC ${diff >= 0 ? '+' : ''}${diff.toFixed(4)} (paired bootstrap SE ${se.toFixed(4)}); ours >= baseline: ${win ? 'YES' : 'NO'}`);
  return {
    ours_features: which, rows: table.ids.length, test_rows: y.length, churn_rate: churnRate, split: { train: stats.trainAsOfs.map(dayOf), valid: stats.validAsOfs.map(dayOf), test: stats.testAsOfs.map(dayOf) },
    feature_seconds: featureSeconds, ours: sideFigures(oursSide), baseline: sideFigures(baseSide), auc_diff: diff, auc_diff_se: se, ours_ge_baseline: win,
  };
}

function parse(argv: string[]): Args {
  const { values } = parseArgs({
    args: argv,
    options: {
      events: { type: 'string' }, generate: { type: 'string' }, world: { type: 'string' }, seed: { type: 'string' }, months: { type: 'string' }, out: { type: 'string' },
      models: { type: 'string' }, horizon: { type: 'string' }, 'valid-dates': { type: 'string' }, 'test-dates': { type: 'string' }, bootstrap: { type: 'string' }, 'keep-db': { type: 'boolean' }, 'no-attributes': { type: 'boolean' }, ours: { type: 'string' },
    },
  });
  const r = Args.safeParse(values);
  if (!r.success) throw new ChurnError('CHURN_ERR_VALIDATION', `npm run eval: ${describeIssues(r.error.issues)}`);
  return r.data;
}

/** Runs the evaluation; returns the figures (also printed: the last stdout line is their JSON). */
export async function runEventsEval(argv: string[]): Promise<Record<string, unknown>> {
  const a = parse(argv);
  const started = performance.now();
  const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const figures: Record<string, unknown> = {};
  let dir = a.events;
  let tmpDir: string | undefined;
  if (a.generate !== undefined) {
    dir = a.out ?? (tmpDir = await fs.mkdtemp(path.join(os.tmpdir(), 'churn-social-')));
    const t = performance.now();
    const sim = await simulateSocialApp(dir, { accounts: a.generate, seed: a.seed, months: a.months, attributes: !a['no-attributes'], progress: createProgress('simulate accounts') });
    console.log(`Social app (simulated, ${a.generate} accounts, ${a.months} months to ${dayOf(sim.end)}, seed ${a.seed}): ${sim.events.toLocaleString('en-US')} event rows, ${sim.subscriptions.toLocaleString('en-US')} subscription periods, written to ${dir} in ${((performance.now() - t) / 1000).toFixed(1)}s`);
    figures.source = 'generate';
    figures.simulated = { accounts: a.generate, months: a.months, seed: a.seed, events: sim.events, subscriptions: sim.subscriptions };
  } else if (a.events !== undefined) {
    await requireEventFiles(a.events);
    console.log(`Customer directory ${a.events}`);
    figures.source = 'events';
    figures.dir = a.events;
  } else {
    console.log(`Our generated world (churn generate, ${a.world} accounts, ${a.months} months, seed ${a.seed}): built-in catalogue vs per-event-type baseline`);
    figures.source = 'world';
    figures.world = { accounts: a.world, months: a.months, seed: a.seed };
  }
  const db = await freshDatabase(adminUrl);
  log(`fresh database ${db.name}${a['keep-db'] ? ' (kept afterwards: --keep-db)' : ''}`);
  // interrupted (Ctrl-C, a timeout's SIGTERM): the fresh database goes too
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`${signal}: dropping ${db.name}`);
    const done = () => process.exit(signal === 'SIGINT' ? 130 : 143);
    (a['keep-db'] ? Promise.resolve() : db.drop({ force: true })).then(done, done);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await migrate(db.pool);
    const t = performance.now();
    if (dir !== undefined) {
      const loaded = await loadEventDirectory(db.pool, dir);
      figures.loaded = Object.fromEntries(loaded.map((l) => [l.table, l.rows]));
      console.log(`  loaded    ${loaded.map((l) => `${l.table} ${l.rows.toLocaleString('en-US')}`).join(', ')} rows with the ingest library in ${((performance.now() - t) / 1000).toFixed(1)}s`);
    } else {
      const today = new Date().toISOString().slice(0, 10);
      const g = await generate(db.pool, { accounts: a.world!, months: a.months, seed: a.seed, end: today }, createProgress('generate'));
      console.log(`  generated ${a.world} accounts, ${a.months} months to ${today} in ${g.seconds}s`);
    }
    figures.load_seconds = (performance.now() - t) / 1000;
    Object.assign(figures, await compare(db.pool, a));
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (!a['keep-db']) await db.drop();
    if (tmpDir) await fs.rm(tmpDir, { recursive: true, force: true });
  }
  figures.seconds = (performance.now() - started) / 1000;
  console.log(JSON.stringify(figures));
  return figures;
}
