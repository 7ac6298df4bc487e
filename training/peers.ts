import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface PeerResult {
  train_rows: number;
  test_rows: number;
  lr_fit_s: number;
  xgb_fit_s: number;
  logreg: { auc: number; pr_auc: number; lift10: number; brier: number; ece: number };
  xgboost: { auc: number; pr_auc: number; lift10: number; brier: number; ece: number };
}

export const PEER_SCRIPT = path.resolve('../shared/tools/peer-baselines.py');
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

/** Runs ../shared/tools/peer-baselines.py on one prepared CSV and returns its JSON line. */
export async function runPeers(file: string, opts: { python?: string; script?: string } = {}): Promise<PeerResult> {
  const { stdout } = await run(opts.python ?? PEER_PYTHON, [opts.script ?? PEER_SCRIPT, file], { timeout: 3_600_000, maxBuffer: 1 << 24 });
  const line = stdout.trim().split('\n').pop() ?? '{}';
  return JSON.parse(line) as PeerResult;
}
