/**
 * Platt scaling on the model's log-odds: calibrated logit = a * logit + b, fitted by Newton's method
 * on held-out (validation) rows. Being affine on the log-odds, it keeps explanations additive:
 * contributions scale by `a`, and the base value becomes `a * base + b`.
 */
export interface Calibration {
  a: number;
  b: number;
}

export const identityCalibration: Calibration = { a: 1, b: 0 };

const sigmoid = (z: number) => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));

export function plattLogLoss(logits: ArrayLike<number>, y: ArrayLike<number>, c: Calibration): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) {
    const z = c.a * logits[i] + c.b;
    // log(1 + e^z) - y z, computed stably
    s += (z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z))) - y[i] * z;
  }
  return s / Math.max(1, y.length);
}

/**
 * Fits `a`, `b` by Newton iterations with a backtracking line search (a tiny ridge keeps it stable on
 * separable data). The slope is held at zero or above: a negative one would turn every contribution,
 * and so every declared direction of risk, the other way round. A model that ranks the held-out rows
 * backwards gets a = 0, the constrained optimum: one probability for every row, the rows' churn rate
 * (`flattened` says so).
 */
export function fitPlatt(logits: ArrayLike<number>, y: ArrayLike<number>, opts: { iterations?: number; ridge?: number } = {}): Calibration {
  const n = y.length;
  if (n === 0) return identityCalibration;
  const ridge = opts.ridge ?? 1e-6;
  let a = 1;
  let b = 0;
  for (let it = 0; it < (opts.iterations ?? 100); it++) {
    let ga = ridge * (a - 1);
    let gb = 0;
    let haa = ridge;
    let hab = 0;
    let hbb = 1e-12;
    for (let i = 0; i < n; i++) {
      const z = logits[i];
      const p = sigmoid(a * z + b);
      const r = p - y[i];
      const w = p * (1 - p);
      ga += (r * z) / n;
      gb += r / n;
      haa += (w * z * z) / n;
      hab += (w * z) / n;
      hbb += w / n;
    }
    const det = haa * hbb - hab * hab;
    if (!(det > 0)) break;
    const da = (hbb * ga - hab * gb) / det;
    const db = (haa * gb - hab * ga) / det;
    // backtracking line search: Newton's full step can overshoot far from the optimum
    const current = plattLogLoss(logits, y, { a, b }) + (ridge / 2) * (a - 1) ** 2;
    let step = 1;
    for (; step > 1e-10; step /= 2) {
      const next = { a: a - step * da, b: b - step * db };
      if (plattLogLoss(logits, y, next) + (ridge / 2) * (next.a - 1) ** 2 <= current + 1e-15) break;
    }
    if (step <= 1e-10) break;
    a -= step * da;
    b -= step * db;
    if (Math.abs(step * da) + Math.abs(step * db) < 1e-10) break;
  }
  if (a >= 0) return { a, b };
  // the loss is convex in (a, b), so with its optimum at a < 0 the best a >= 0 is on the edge a = 0,
  // where the best b is the log-odds of the rows' churn rate
  let positives = 0;
  for (let i = 0; i < n; i++) positives += y[i];
  const rate = Math.min(1 - 1e-6, Math.max(1e-6, positives / n));
  return { a: 0, b: Math.log(rate / (1 - rate)) };
}

/** Whether a calibration gives every row the same probability (a model with no usable ranking: see fitPlatt). */
export function flattened(c: Calibration): boolean {
  return c.a === 0;
}

export function applyCalibration(c: Calibration, logit: number): number {
  return c.a * logit + c.b;
}

export { sigmoid };
