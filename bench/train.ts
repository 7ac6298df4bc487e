/**
 * `npm run bench:train [-- --rows 100000 --features 40 --seed 7]`
 *
 * Training time on a seeded synthetic prepared table (default 100,000 rows x 40 features: 32 numeric,
 * 8 text, with a known signal), from reading the CSV to the calibrated, evaluated model; and, when
 * python3-sklearn and python3-xgboost are installed, the peer baselines' fit time and test AUC on the
 * same file in the same run, printed as ratios. Last line: one JSON object of figures.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createProgress } from '../core/progress.ts';
import { tableFromCsv } from '../training/csv-table.ts';
import { writePreparedCsv } from '../training/export.ts';
import { peersAvailable, runPeers } from '../training/peers.ts';
import { syntheticTable } from '../training/synthetic.ts';
import { trainModel, type ModelType } from '../training/train.ts';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '100000' },
    features: { type: 'string', default: '40' },
    seed: { type: 'string', default: '7' },
    models: { type: 'string', default: 'logistic,mlp' },
  },
});
const rows = Number(values.rows);
const features = Number(values.features);
const text = Math.max(1, Math.round(features / 5));
const seed = Number(values.seed);
const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'churn-bench-train-'));
const file = path.join(dir, `synthetic-${rows}x${features}.csv`);
try {
  await writePreparedCsv(syntheticTable({ rows, numeric: features - text, text, seed }), file);
  console.log(`prepared table: ${rows} rows x ${features} features (${features - text} numeric, ${text} text) -> ${file}`);

  const t0 = performance.now();
  const table = tableFromCsv(await fs.readFile(file, 'utf8'), file, { label: 'churned' });
  const loadSeconds = (performance.now() - t0) / 1000;
  const result = await trainModel(table, {
    seed, modelTypes: values.models!.split(',') as ModelType[], log: (m) => console.error(`  ${m}`),
    progress: (l) => createProgress(l), backend: process.env.CHURN_TF_BACKEND, bootstrap: 100,
  });
  const ourSeconds = (performance.now() - t0) / 1000;
  const test = result.metrics.test!;
  console.log(`churnlens: ${ourSeconds.toFixed(1)}s (load ${loadSeconds.toFixed(1)}s, backend ${result.backend}), chosen ${result.chosen}, test AUC ${test.auc.toFixed(4)}, ECE ${test.ece.toFixed(4)}`);
  for (const c of result.candidates) console.log(`  ${c.modelType}: ${c.seconds.toFixed(1)}s, ${c.epochsRun} epochs, validation AUC ${c.validAuc.toFixed(4)}`);

  const figures: Record<string, unknown> = {
    rows, features, backend: result.backend, chosen: result.chosen, train_seconds: Number(ourSeconds.toFixed(2)),
    load_seconds: Number(loadSeconds.toFixed(2)), test_auc: Number(test.auc.toFixed(4)), test_ece: Number(test.ece.toFixed(4)),
    candidates: Object.fromEntries(result.candidates.map((c) => [c.modelType, { seconds: Number(c.seconds.toFixed(2)), valid_auc: Number(c.validAuc.toFixed(4)) }])),
  };
  const avail = await peersAvailable();
  if (avail.ok) {
    const peers = await runPeers(file);
    const ratio = (a: number, b: number) => Number((a / b).toFixed(2));
    console.log(`peers: logistic regression ${peers.lr_fit_s}s AUC ${peers.logreg.auc}; XGBoost ${peers.xgb_fit_s}s AUC ${peers.xgboost.auc}`);
    console.log(`ratios: time ours/logreg ${ratio(ourSeconds, peers.lr_fit_s)}, ours/xgboost ${ratio(ourSeconds, peers.xgb_fit_s)}; AUC ours - best peer ${(test.auc - Math.max(peers.logreg.auc, peers.xgboost.auc)).toFixed(4)}`);
    Object.assign(figures, {
      peer_lr_fit_s: peers.lr_fit_s, peer_xgb_fit_s: peers.xgb_fit_s, peer_lr_auc: peers.logreg.auc, peer_xgb_auc: peers.xgboost.auc,
      time_ratio_vs_lr: ratio(ourSeconds, peers.lr_fit_s), time_ratio_vs_xgb: ratio(ourSeconds, peers.xgb_fit_s),
      auc_minus_best_peer: Number((test.auc - Math.max(peers.logreg.auc, peers.xgboost.auc)).toFixed(4)),
    });
  } else {
    console.log(`peers: skipped (${avail.reason}); install python3-sklearn python3-xgboost python3-pandas for the ratios`);
    Object.assign(figures, { peers: 'unavailable', time_ratio_vs_lr: null, time_ratio_vs_xgb: null });
  }
  console.log(JSON.stringify(figures));
} finally {
  await fs.rm(dir, { recursive: true, force: true });
}
