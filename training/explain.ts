import { activationBuffers, forward, type CompiledNetwork } from './models/network.ts';

/**
 * Additive explanations on the log-odds scale, used by training, reports and the API.
 *
 * Reference: the mean of the encoded inputs over the training rows (for standardised numeric inputs
 * that is 0, for one-hot and missing indicators the training frequency). `baseValue` is the model's
 * log-odds at the reference.
 * - Logistic regression: contribution_j = w_j * (x_j - ref_j), exact.
 * - Network: Integrated Gradients from the reference to x along the straight path. The network is
 *   piecewise linear along that path (ReLU), so the path is split where any hidden unit changes sign and
 *   the integral is computed exactly, interval by interval; completeness
 *   (`baseValue + sum(contributions) = logit`) then holds up to rounding, and the rounding residual
 *   (checked to be at rounding level) is spread over the contributions in proportion to their size.
 * Calibration (`a * logit + b`) is applied by the caller: contributions * a, baseValue * a + b.
 */
export interface Explainer {
  /** the model's log-odds at the reference */
  baseValue: number;
  /** writes one contribution per encoded input into `out` and returns the log-odds of `x` */
  explain(x: Float64Array, out: Float64Array): number;
  /** largest |logit - base - sum| seen before the residual was spread (a health check) */
  maxResidual(): number;
}

export function createExplainer(net: CompiledNetwork, reference: Float64Array): Explainer {
  const L = net.W.length;
  const d = net.sizes[0];
  const bufs = activationBuffers(net);
  const baseValue = forward(net, reference, bufs);
  let worst = 0;
  if (L === 1) {
    const w = net.W[0];
    return {
      baseValue,
      explain(x, out) {
        let logit = net.b[0][0];
        for (let j = 0; j < d; j++) {
          logit += w[j] * x[j];
          out[j] = w[j] * (x[j] - reference[j]);
        }
        return logit;
      },
      maxResidual: () => worst,
    };
  }
  const H = net.sizes.slice(1, L);
  const H0 = H[0];
  const p0 = new Float64Array(H0); // first hidden pre-activation at the reference
  for (let k = 0; k < H0; k++) {
    let s = net.b[0][k];
    for (let j = 0; j < d; j++) s += net.W[0][k * d + j] * reference[j];
    p0[k] = s;
  }
  const delta = new Float64Array(d);
  const slope = new Float64Array(H0);
  const acc = new Float64Array(H0);
  const pre = H.map((h) => new Float64Array(h));
  const preB = H.map((h) => new Float64Array(h));
  const masks = H.map((h) => new Uint8Array(h));
  const g = H.map((h) => new Float64Array(h));

  /** hidden pre-activations at alpha; with `fixed`, layers use the current masks instead of their own signs */
  const preAt = (alpha: number, upTo: number, target: Float64Array[], fixed: boolean) => {
    for (let k = 0; k < H0; k++) target[0][k] = p0[k] + alpha * slope[k];
    if (!fixed) for (let k = 0; k < H0; k++) masks[0][k] = target[0][k] > 0 ? 1 : 0;
    for (let l = 1; l <= upTo; l++) {
      const nIn = H[l - 1];
      const w = net.W[l];
      for (let o = 0; o < H[l]; o++) {
        let s = net.b[l][o];
        for (let i = 0; i < nIn; i++) if (masks[l - 1][i]) s += w[o * nIn + i] * target[l - 1][i];
        target[l][o] = s;
      }
      if (!fixed) for (let o = 0; o < H[l]; o++) masks[l][o] = target[l][o] > 0 ? 1 : 0;
    }
  };

  const splitAt = (a: number, b: number, l: number, cuts: number[]) => {
    for (let k = 0; k < H[l]; k++) {
      const pa = pre[l][k];
      const pb = preB[l][k];
      if ((pa > 0) !== (pb > 0) && pa !== pb) {
        const t = a + ((b - a) * pa) / (pa - pb);
        if (t > a && t < b) cuts.push(t);
      }
    }
  };

  return {
    baseValue,
    explain(x, out) {
      for (let j = 0; j < d; j++) delta[j] = x[j] - reference[j];
      for (let k = 0; k < H0; k++) {
        let s = 0;
        for (let j = 0; j < d; j++) s += net.W[0][k * d + j] * delta[j];
        slope[k] = s;
      }
      // 1. breakpoints of the first hidden layer (linear in alpha everywhere)
      let points: number[] = [0, 1];
      for (let k = 0; k < H0; k++) {
        if (slope[k] === 0) continue;
        const t = -p0[k] / slope[k];
        if (t > 0 && t < 1) points.push(t);
      }
      points.sort((u, v) => u - v);
      // 2. deeper hidden layers: within each interval the earlier layers are linear, so each unit of
      //    layer l is linear too and crosses zero at most once
      for (let l = 1; l < H.length; l++) {
        const next: number[] = [points[0]];
        for (let i = 0; i + 1 < points.length; i++) {
          const a = points[i];
          const b = points[i + 1];
          preAt((a + b) / 2, l - 1, pre, false);
          preAt(a, l, pre, true);
          preAt(b, l, preB, true);
          const cuts: number[] = [];
          splitAt(a, b, l, cuts);
          cuts.sort((u, v) => u - v);
          for (const t of cuts) next.push(t);
          next.push(b);
        }
        points = next;
      }
      // 3. the gradient is constant within each interval: integrate d logit / d pre0 exactly
      acc.fill(0);
      for (let i = 0; i + 1 < points.length; i++) {
        const len = points[i + 1] - points[i];
        if (len <= 0) continue;
        preAt((points[i] + points[i + 1]) / 2, H.length - 1, pre, false);
        const last = H.length - 1;
        const wOut = net.W[L - 1];
        for (let k = 0; k < H[last]; k++) g[last][k] = masks[last][k] ? wOut[k] : 0;
        for (let l = last; l >= 1; l--) {
          const nIn = H[l - 1];
          const w = net.W[l];
          g[l - 1].fill(0);
          for (let o = 0; o < H[l]; o++) {
            const go = g[l][o];
            if (go === 0) continue;
            for (let k = 0; k < nIn; k++) g[l - 1][k] += w[o * nIn + k] * go;
          }
          for (let k = 0; k < nIn; k++) if (!masks[l - 1][k]) g[l - 1][k] = 0;
        }
        for (let k = 0; k < H0; k++) acc[k] += len * g[0][k];
      }
      let sum = 0;
      let abs = 0;
      for (let j = 0; j < d; j++) {
        let s = 0;
        for (let k = 0; k < H0; k++) s += net.W[0][k * d + j] * acc[k];
        out[j] = delta[j] * s;
        sum += out[j];
        abs += Math.abs(out[j]);
      }
      const logit = forward(net, x, bufs);
      const residual = logit - baseValue - sum;
      if (Math.abs(residual) > worst) worst = Math.abs(residual);
      // exact up to rounding: a residual beyond rounding (relative to the magnitudes involved) is a bug
      if (Math.abs(residual) > 1e-6 * Math.max(1, Math.abs(logit) + Math.abs(baseValue) + abs)) {
        throw new Error(`integrated gradients residual ${residual} exceeds the rounding tolerance`);
      }
      if (abs > 0) for (let j = 0; j < d; j++) out[j] += (residual * Math.abs(out[j])) / abs;
      else if (d > 0) out[0] += residual;
      return logit;
    },
    maxResidual: () => worst,
  };
}

/** The gradient of the log-odds with respect to the encoded inputs (plain JS backpropagation). */
export function inputGradient(net: CompiledNetwork, x: Float64Array, out: Float64Array): void {
  const L = net.W.length;
  const bufs = activationBuffers(net);
  forward(net, x, bufs);
  let g = Float64Array.of(1);
  for (let l = L - 1; l >= 0; l--) {
    const nIn = net.sizes[l];
    const prev = new Float64Array(nIn);
    for (let o = 0; o < net.sizes[l + 1]; o++) for (let i = 0; i < nIn; i++) prev[i] += net.W[l][o * nIn + i] * g[o];
    if (l > 0) for (let i = 0; i < nIn; i++) if (bufs[l - 1][i] <= 0) prev[i] = 0;
    g = prev;
  }
  out.set(g);
}

/** Integrated Gradients by the trapezoid rule with `steps` intervals (an independent check of the exact method). */
export function integratedGradientsNumeric(net: CompiledNetwork, x: Float64Array, reference: Float64Array, steps: number): Float64Array {
  const d = x.length;
  const total = new Float64Array(d);
  const point = new Float64Array(d);
  const grad = new Float64Array(d);
  for (let s = 0; s <= steps; s++) {
    const alpha = s / steps;
    for (let j = 0; j < d; j++) point[j] = reference[j] + alpha * (x[j] - reference[j]);
    inputGradient(net, point, grad);
    const w = s === 0 || s === steps ? 0.5 : 1;
    for (let j = 0; j < d; j++) total[j] += (w * grad[j]) / steps;
  }
  for (let j = 0; j < d; j++) total[j] *= x[j] - reference[j];
  return total;
}
