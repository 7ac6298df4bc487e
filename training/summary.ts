import type { EvaluationReport } from './evaluate.ts';
import type { TrainResult } from './train.ts';

const f = (x: number, d = 3) => x.toFixed(d);

function metricLine(name: string, e: EvaluationReport): string {
  const ci = (c: { lower: number; upper: number } | undefined) => (c ? ` [${f(c.lower)}, ${f(c.upper)}]` : '');
  return `  ${name.padEnd(10)} n=${String(e.n).padEnd(6)} AUC ${f(e.auc)}${ci(e.ci?.auc)}  PR AUC ${f(e.prAuc)}  lift@10% ${f(e.lift10, 2)}${ci(e.ci?.lift10)}  Brier ${f(e.brier)}  ECE ${f(e.ece)}`;
}

/** The one-screen summary printed at the end of `churn train`. */
export function trainingSummary(r: TrainResult, extra: string[] = []): string {
  const refitted = r.params.final_fit_rows === r.rows.train + r.rows.valid;
  const lines = [
    r.params.calibration_folds
      ? `trained ${r.chosen} on ${r.rows.train + r.rows.valid} rows (${r.params.calibration_folds}-fold cross-fitted${refitted ? ', then refit' : `, final fit on the ${r.rows.train} train rows`}; ${r.rows.test} test rows held out) in ${r.seconds.toFixed(1)}s, backend ${r.backend}`
      : `trained ${r.chosen} on ${r.rows.train} rows, chose and calibrated on ${r.rows.valid} validation rows${refitted ? ', then refit on both' : ''} (${r.rows.test} test rows held out) in ${r.seconds.toFixed(1)}s, backend ${r.backend}`,
    `  features  ${r.artifact.feature_names.length} raw${r.artifact.preprocessing ? ` -> ${r.artifact.preprocessing.encodedNames.length} model inputs` : ''}; churn rate ${(r.artifact.training.churn_rate * 100).toFixed(1)}%; churner weight ${r.artifact.training.positive_weight.toFixed(2)}`,
    ...r.candidates.map((c) => `  candidate ${c.modelType.padEnd(9)} validation AUC ${f(c.validAuc, 4)}${c.cvAuc === undefined ? '' : `  cross-validated ${f(c.cvAuc, 4)}`}  loss ${f(c.validLoss, 4)}  ${c.modelType === 'gbdt' ? `${c.bestStep} trees kept of ${c.stepsRun} grown` : `best step ${c.bestStep}/${c.stepsRun}`}  ${c.seconds.toFixed(1)}s${c.modelType === r.chosen ? '  <- chosen' : ''}`),
    `  calibration Platt a=${f(r.calibration.a, 4)} b=${f(r.calibration.b, 4)}`,
    metricLine('validation', r.metrics.validation),
    ...(r.metrics.cv ? [metricLine('cv (oof)', r.metrics.cv)] : []),
    ...(r.metrics.test ? [metricLine('test', r.metrics.test)] : []),
    ...(r.artifact.importance ? [`  drivers   ${Object.entries(r.artifact.importance.mean_abs_contribution).sort((a, b) => b[1] - a[1]).slice(0, 5).map(([k, v]) => `${k} ${f(v, 2)}`).join(', ')} (mean |contribution|, ${r.artifact.importance.split}; additivity error <= ${r.artifact.importance.max_additivity_error.toExponential(0)})`] : []),
    ...r.warnings.map((w) => `  warning   ${w}`),
    ...extra,
  ];
  return lines.join('\n');
}
