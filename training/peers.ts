import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

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
}

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

/** Runs bench/peers.py on one prepared CSV (train/valid rows fit, test rows scored; XGBoost with `xgbSeeds` seeds) and returns its JSON line. */
export async function runPeers(file: string, opts: { python?: string; script?: string; xgbSeeds?: number } = {}): Promise<PeerResult> {
  const seeds = opts.xgbSeeds && opts.xgbSeeds > 1 ? ['--xgb-seeds', String(opts.xgbSeeds)] : [];
  const { stdout } = await run(opts.python ?? PEER_PYTHON, [opts.script ?? PEER_SCRIPT, file, ...seeds], { timeout: 3_600_000, maxBuffer: 1 << 24 });
  const line = stdout.trim().split('\n').pop() ?? '{}';
  return JSON.parse(line) as PeerResult;
}
