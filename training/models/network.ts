import { z } from 'zod';
import { mulberry32 } from '../../core/random.ts';

/**
 * A small feed-forward network stored as plain arrays: hidden layers use ReLU, the last layer has one
 * linear output (the log-odds). A logistic regression is the network with no hidden layer.
 * Kernels are [inputs][outputs], as in TensorFlow.js dense layers.
 */
export const DenseLayer = z.object({
  kernel: z.array(z.array(z.number())),
  bias: z.array(z.number()),
});
export type DenseLayer = z.infer<typeof DenseLayer>;

export const NetworkWeights = z.object({ layers: z.array(DenseLayer).min(1) });
export type NetworkWeights = z.infer<typeof NetworkWeights>;

/** The weights flattened for fast plain-JS evaluation: W[l] is row-major [outputs][inputs]. */
export interface CompiledNetwork {
  sizes: number[];
  W: Float64Array[];
  b: Float64Array[];
}

export function compileNetwork(net: NetworkWeights): CompiledNetwork {
  const sizes = [net.layers[0].kernel.length, ...net.layers.map((l) => l.bias.length)];
  const W = net.layers.map((l, li) => {
    const nIn = sizes[li];
    const nOut = sizes[li + 1];
    const w = new Float64Array(nIn * nOut);
    for (let i = 0; i < nIn; i++) for (let o = 0; o < nOut; o++) w[o * nIn + i] = l.kernel[i][o];
    return w;
  });
  const b = net.layers.map((l) => Float64Array.from(l.bias));
  if (sizes[sizes.length - 1] !== 1) throw new Error('the network must have one output');
  return { sizes, W, b };
}

/** Creates per-layer activation buffers for `forward` (reuse them across calls). */
export function activationBuffers(net: CompiledNetwork): Float64Array[] {
  return net.sizes.slice(1).map((n) => new Float64Array(n));
}

/** The log-odds for one encoded input row, in plain JS. */
export function forward(net: CompiledNetwork, x: Float64Array | Float32Array, bufs: Float64Array[], xOffset = 0): number {
  let input: Float64Array | Float32Array = x;
  let off = xOffset;
  const L = net.W.length;
  for (let l = 0; l < L; l++) {
    const nIn = net.sizes[l];
    const nOut = net.sizes[l + 1];
    const w = net.W[l];
    const out = bufs[l];
    for (let o = 0; o < nOut; o++) {
      let s = net.b[l][o];
      const row = o * nIn;
      for (let i = 0; i < nIn; i++) s += w[row + i] * input[off + i];
      out[o] = l < L - 1 && s < 0 ? 0 : s;
    }
    input = out;
    off = 0;
  }
  return bufs[L - 1][0];
}

/** A seeded PRNG (mulberry32): the same seed gives the same stream on every platform. */
export const createRng = mulberry32;

/** Fisher-Yates shuffle in place with the given PRNG. */
export function shuffleInPlace<T>(a: Int32Array | T[], rng: () => number): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
}
