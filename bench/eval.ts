/**
 * `npm run eval [-- --telco FILE] [--csv PREPARED_CSV] [--seed 42] [--models logistic,gbdt,mlp]`
 * `npm run eval -- --events DIR | --generate N [--seed S] | --world N`: the evaluation on event data
 * (bench/eval-events.ts): ours against a per-event-type baseline on the same held-out rows.
 *
 * The quality bar, measured: trains on the Telco train rows and evaluates on its held-out test rows
 * against the logistic-regression baseline in its README (ROC AUC 0.837 - 0.005, ECE <= 0.03); with
 * `--csv` (e.g. from `churn dataset export`) also trains on that file and runs the peer baselines on
 * the same rows when python3-sklearn and python3-xgboost are installed, with a paired bootstrap interval
 * of ours - best peer over those rows (whether they can decide the -0.003 bar). The Telco part runs only when
 * `--telco FILE` is given (the file lives outside the repository). Last line: one JSON object.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createProgress } from '../core/progress.ts';
import { loadCatalog } from '../features/catalog.ts';
import { catalogueDeclarations, describeCatalogueMatch, tableFromCsv } from '../training/csv-table.ts';
import { peerScoresFor, peersAvailable, runPeers } from '../training/peers.ts';
import { trainModel, type ModelType } from '../training/train.ts';
import { createScorer } from '../training/scorer.ts';
import { bootstrapAucDifference, eceNoiseFloor } from '../training/evaluate.ts';
import { asChurnError } from '../core/errors.ts';

if (process.argv.slice(2).some((a) => /^--(events|generate|world)(=|$)/.test(a))) {
  const { runEventsEval } = await import('./eval-events.ts');
  try {
    await runEventsEval(process.argv.slice(2));
  } catch (err) {
    const known = asChurnError(err);
    console.error(known ? `${known.code}: ${known.message}` : (err as Error).stack ?? String(err));
    process.exit(1);
  }
  process.exit(process.exitCode ?? 0);
}

const TELCO_BASELINE = { auc: 0.837, ece: 0.029 };
/**
 * XGBoost samples rows and columns, so its test AUC depends on its seed: on the 1,577 test rows of the
 * synthetic export (32 churners) seeds 0-4 spread from 0.894 to 0.914. The peer is fitted with five
 * seeds; the bars use seed 0 as before, and the mean is printed beside it.
 */
const XGB_SEEDS = 5;

const { values } = parseArgs({
  options: {
    telco: { type: 'string' },
    csv: { type: 'string' },
    seed: { type: 'string', default: '42' },
    models: { type: 'string', default: 'logistic,gbdt,mlp' },
    /** accepted for old scripts: the Telco part now runs only with --telco */
    'skip-telco': { type: 'boolean', default: false },
  },
});
const seed = Number(values.seed);
const modelTypes = values.models!.split(',') as ModelType[];
const log = (m: string) => console.error(`  ${m}`);
const figures: Record<string, unknown> = {};
let pass = true;

async function trainOn(file: string, label: string) {
  // as `churn train --from-csv` does: columns named as catalogue features keep its declarations
  const { table, match } = catalogueDeclarations(tableFromCsv(await fs.readFile(file, 'utf8'), file, { label }), loadCatalog());
  if (match.matched) log(describeCatalogueMatch(match, table.columns.length));
  const r = await trainModel(table, { seed, modelTypes, log, progress: (l) => createProgress(l), bootstrap: 200, backend: process.env.CHURN_TF_BACKEND });
  // the ECE a perfectly calibrated model would show on the same test rows (outcomes drawn from its own probabilities)
  const scorer = createScorer(r.artifact);
  const p = r.splits.test.map((i) => scorer.score(Object.fromEntries(table.columns.map((c) => [c.name, c.values[i]]))).probability);
  const test = { ids: r.splits.test.map((i) => table.ids[i]), labels: r.splits.test.map((i) => table.label[i]), probabilities: p };
  return { ...r, test, eceFloor: p.length ? eceNoiseFloor(p, 200, seed) : null };
}

/** The tree models' bars (AUC at least the best peer's - 0.003, ECE at most 0.02), printed beside the release bars above; they do not change the exit code. */
function strictBars(aucMinusPeer: number, ece: number) {
  const bars = { auc_within_0003: aucMinusPeer >= -0.003, ece_within_002: ece <= 0.02 };
  console.log(`  tree-model bars: AUC - best peer ${aucMinusPeer.toFixed(4)} >= -0.003: ${bars.auc_within_0003 ? 'PASS' : 'FAIL'}; ECE ${ece.toFixed(4)} <= 0.02: ${bars.ece_within_002 ? 'PASS' : 'FAIL'}`);
  return bars;
}

/** Resamples of the paired bootstrap of ours - best peer. */
const PAIRED_RESAMPLES = 1000;

/**
 * Ours against the best peer row by row: a paired bootstrap interval of the AUC difference, and whether
 * the rows decide the tree-model bar (-0.003): held or missed with 95% confidence, or undecided.
 */
function pairedComparison(ours: { ids: string[]; labels: number[]; probabilities: number[] }, peers: Awaited<ReturnType<typeof runPeers>>, best: 'logistic' | 'xgboost') {
  const theirs = peerScoresFor(ours.ids, peers.predictions!, best);
  const d = bootstrapAucDifference(ours.labels, ours.probabilities, theirs, { n: PAIRED_RESAMPLES, seed });
  const verdict = d.lower >= -0.003 ? 'held' : d.upper < -0.003 ? 'missed' : 'undecided';
  const churners = ours.labels.reduce((s, y) => s + y, 0);
  const words = { held: 'the bar (-0.003) holds with 95% confidence', missed: 'below the bar (-0.003) with 95% confidence', undecided: 'these rows cannot tell whether the bar (-0.003) holds' }[verdict];
  console.log(`  ours - ${best === 'xgboost' ? 'XGBoost' : 'logistic'} row by row: ${d.estimate.toFixed(4)}, 95% paired bootstrap interval [${d.lower.toFixed(4)}, ${d.upper.toFixed(4)}] over ${ours.labels.length} test rows (${churners} churners): ${words}`);
  return { auc_minus_best_peer_ci: [d.lower, d.upper], auc_bar_verdict: verdict };
}

const floorLine = (f: { mean: number; p90: number } | null) => (f ? `; a perfectly calibrated model shows ${f.mean.toFixed(4)} on these rows by chance (90% of draws under ${f.p90.toFixed(4)})` : '');

if (!values.telco && !values.csv) {
  console.error('npm run eval: nothing to evaluate: give --telco FILE, --csv PREPARED_CSV, --events DIR, --generate N or --world N');
  process.exit(1);
}

if (values.telco) {
  console.log(`Telco (${values.telco}): train on train rows, evaluate on test rows`);
  const r = await trainOn(values.telco!, 'churned');
  const t = r.metrics.test!;
  const aucOk = t.auc >= TELCO_BASELINE.auc - 0.005;
  const eceOk = t.ece <= 0.03;
  pass &&= aucOk && eceOk;
  console.log(`  backend ${r.backend}; chosen ${r.chosen}; ${r.seconds.toFixed(1)}s`);
  for (const c of r.candidates) console.log(`  candidate ${c.modelType}: validation AUC ${c.validAuc.toFixed(4)}${c.cvAuc === undefined ? "" : `, cross-validated ${c.cvAuc.toFixed(4)}`} (best epoch ${c.bestEpoch}, ${c.seconds.toFixed(1)}s)`);
  console.log(`  test ROC AUC ${t.auc.toFixed(4)} [${t.ci?.auc.lower.toFixed(3)}, ${t.ci?.auc.upper.toFixed(3)}] vs baseline ${TELCO_BASELINE.auc} - 0.005: ${aucOk ? 'PASS' : 'FAIL'}`);
  console.log(`  test ECE ${t.ece.toFixed(4)} (baseline ${TELCO_BASELINE.ece}) vs bar 0.03: ${eceOk ? 'PASS' : 'FAIL'}${floorLine(r.eceFloor)}`);
  console.log(`  test PR AUC ${t.prAuc.toFixed(4)}, lift@10% ${t.lift10.toFixed(2)}, Brier ${t.brier.toFixed(4)}`);
  const strict = strictBars(t.auc - TELCO_BASELINE.auc, t.ece);
  figures.telco = { chosen: r.chosen, auc: t.auc, ece: t.ece, ...strict, ece_floor: r.eceFloor?.mean ?? null, pr_auc: t.prAuc, lift10: t.lift10, brier: t.brier, seconds: r.seconds, backend: r.backend, auc_pass: aucOk, ece_pass: eceOk };
}

/** The peers evaluate on `test` rows: a file with only train/valid (churn dataset export) gets its valid rows as test. */
async function withTestSplit(file: string): Promise<{ file: string; note: string | null; cleanup: () => Promise<void> }> {
  const text = await fs.readFile(file, 'utf8');
  const header = text.slice(0, text.indexOf('\n')).split(',');
  if (header[header.length - 1].trim() !== 'split' || /,test\r?$/m.test(text)) return { file, note: null, cleanup: async () => undefined };
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'churn-eval-'));
  const copy = path.join(dir, path.basename(file));
  await fs.writeFile(copy, text.replace(/,valid(\r?)$/gm, ',test$1'));
  return { file: copy, note: 'no test rows: the valid rows are held out as test for both', cleanup: () => fs.rm(dir, { recursive: true, force: true }) };
}

async function compareWithPeers(file: string): Promise<Record<string, unknown>> {
  const r = await trainOn(file, 'churned');
  const t = r.metrics.test;
  if (!t) throw new Error(`${file} has no test rows with both classes`);
  console.log(`  ours (${r.chosen}): test ROC AUC ${t.auc.toFixed(4)}, ECE ${t.ece.toFixed(4)}${floorLine(r.eceFloor)}, ${r.seconds.toFixed(1)}s`);
  const synth: Record<string, unknown> = { chosen: r.chosen, auc: t.auc, ece: t.ece, ece_floor: r.eceFloor?.mean ?? null, seconds: r.seconds };
  const avail = await peersAvailable();
  if (!avail.ok) {
    console.log(`  peer baselines skipped: ${avail.reason} (install python3-sklearn python3-xgboost python3-pandas)`);
    return { ...synth, peers: 'unavailable' };
  }
  const peers = await runPeers(file, { xgbSeeds: XGB_SEEDS, predictions: true });
  const best = peers.xgboost.auc >= peers.logistic.auc ? 'xgboost' : 'logistic';
  const bestPeer = peers[best].auc;
  const ok = t.auc >= bestPeer - 0.005;
  pass &&= ok;
  const seeds = peers.xgboost_seeds;
  const spread = seeds ? ` (mean of ${seeds.auc.length} seeds ${seeds.mean_auc}, from ${Math.min(...seeds.auc)} to ${Math.max(...seeds.auc)})` : '';
  console.log(`  peers: logistic ${peers.logistic.auc}, XGBoost ${peers.xgboost.auc}${spread}; ours - best peer ${(t.auc - bestPeer).toFixed(4)}; ours >= best - 0.005: ${ok ? 'PASS' : 'FAIL'}`);
  const bestMean = seeds ? Math.max(peers.logistic.auc, seeds.mean_auc) : null;
  if (bestMean !== null) console.log(`  against XGBoost's mean over its seeds: ours - best peer ${(t.auc - bestMean).toFixed(4)}`);
  const paired = pairedComparison(r.test, peers, best);
  return { ...paired,
    ...synth, peer_logreg_auc: peers.logistic.auc, peer_xgb_auc: peers.xgboost.auc, auc_minus_best_peer: t.auc - bestPeer, auc_pass: ok, ...strictBars(t.auc - bestPeer, t.ece),
    ...(seeds ? { peer_xgb_auc_seeds: seeds.auc, peer_xgb_auc_mean: seeds.mean_auc, auc_minus_best_peer_mean: t.auc - bestMean! } : {}),
  };
}

if (values.csv) {
  console.log(`Prepared table ${values.csv}: ours vs peer baselines on the same test rows`);
  const prepared = await withTestSplit(values.csv);
  if (prepared.note) console.log(`  ${prepared.note}`);
  try {
    figures.synthetic = await compareWithPeers(prepared.file);
  } finally {
    await prepared.cleanup();
  }
}

console.log(JSON.stringify({ pass, ...figures }));
process.exitCode = pass ? 0 : 1;
