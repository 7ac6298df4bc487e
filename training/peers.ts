import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { z } from 'zod';
import { ChurnError } from '../core/errors.ts';

const run = promisify(execFile);

export interface PeerFigures {
  fit_seconds: number;
  auc: number;
  pr_auc: number;
  lift10: number;
  brier: number;
  ece: number;
}

/** What bench/peers.py prints: row counts, then each peer's fit time and test figures. */
export interface PeerResult {
  rows: { fit: number; test: number };
  logistic: PeerFigures;
  xgboost: PeerFigures;
  /** with xgbSeeds > 1: XGBoost's test AUC for random_state 0 .. N-1 and their mean */
  xgboost_seeds?: { auc: number[]; mean_auc: number };
  /** with `predictions: true`: the test rows' ids and each peer's probabilities (XGBoost: random_state 0) */
  predictions?: PeerPredictions;
}

const Probabilities = z.array(z.number().min(0).max(1));
/** What `bench/peers.py --predictions FILE` writes. */
export const PeerPredictionsSchema = z.object({ id: z.array(z.string().min(1)), logistic: Probabilities, xgboost: Probabilities })
  .refine((p) => p.logistic.length === p.id.length && p.xgboost.length === p.id.length, 'one probability per test id for each peer');
export type PeerPredictions = z.infer<typeof PeerPredictionsSchema>;

export const PEER_SCRIPT = fileURLToPath(new URL('../bench/peers.py', import.meta.url));
export const PEER_PYTHON = '/usr/bin/python3';

/** Whether the peer baselines can run here (Debian python3-sklearn, python3-xgboost, python3-pandas). */
export async function peersAvailable(python = PEER_PYTHON): Promise<{ ok: boolean; reason?: string }> {
  try {
    await run(python, ['-c', 'import sklearn, xgboost, pandas'], { timeout: 60_000 });
    return { ok: true };
  } catch (err) {
    const msg = String((err as { stderr?: string }).stderr ?? (err as Error).message).trim().split('\n').pop();
    return { ok: false, reason: msg };
  }
}

/**
 * Runs bench/peers.py on one prepared CSV (train/valid rows fit, test rows scored; XGBoost with
 * `xgbSeeds` seeds) and returns its JSON line; with `predictions` also the peers' test probabilities.
 */
export async function runPeers(file: string, opts: { python?: string; script?: string; xgbSeeds?: number; predictions?: boolean } = {}): Promise<PeerResult> {
  const seeds = opts.xgbSeeds && opts.xgbSeeds > 1 ? ['--xgb-seeds', String(opts.xgbSeeds)] : [];
  const dir = opts.predictions ? await fs.mkdtemp(path.join(os.tmpdir(), 'churn-peers-')) : null;
  const predictions = dir ? path.join(dir, 'predictions.json') : null;
  try {
    const extra = predictions ? ['--predictions', predictions] : [];
    const { stdout } = await run(opts.python ?? PEER_PYTHON, [opts.script ?? PEER_SCRIPT, file, ...seeds, ...extra], { timeout: 3_600_000, maxBuffer: 1 << 24 });
    const line = stdout.trim().split('\n').pop() ?? '{}';
    const result = JSON.parse(line) as PeerResult;
    if (!predictions) return result;
    const parsed = PeerPredictionsSchema.safeParse(JSON.parse(await fs.readFile(predictions, 'utf8')));
    if (!parsed.success) throw new ChurnError('CHURN_ERR_BAD_FILE', `${predictions}: not what bench/peers.py writes: ${parsed.error.issues[0].message}`);
    return { ...result, predictions: parsed.data };
  } finally {
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  }
}

/**
 * A peer's test probabilities in the order of `ids` (our test rows), so both models' scores of each
 * row line up; throws when the two sides do not hold the same rows.
 */
export function peerScoresFor(ids: readonly string[], predictions: PeerPredictions, peer: 'logistic' | 'xgboost'): Float64Array {
  const at = new Map(predictions.id.map((id, i) => [id, i]));
  if (at.size !== predictions.id.length) throw new ChurnError('CHURN_ERR_VALIDATION', 'the peers\' test ids repeat');
  if (ids.length !== at.size) throw new ChurnError('CHURN_ERR_VALIDATION', `the peers scored ${at.size} test rows, ours ${ids.length}`);
  const scores = predictions[peer];
  return Float64Array.from(ids, (id) => {
    const i = at.get(id);
    if (i === undefined) throw new ChurnError('CHURN_ERR_VALIDATION', `test row "${id}" has no ${peer} score`);
    return scores[i];
  });
}
