import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { selectBackend } from '../training/backend.ts';

describe('backend selection', () => {
  it('tries the native binding first, falls back to a working backend, and says which one it uses', async () => {
    const lines: string[] = [];
    const name = await selectBackend((m) => lines.push(m), 'tensorflow');
    expect(['tensorflow', 'wasm', 'cpu']).toContain(name);
    expect(tf.getBackend()).toBe(name);
    expect(lines[lines.length - 1]).toMatch(new RegExp(`^tensorflow\\.js backend: ${name}`));
    // where the optional native binding is not installed (here: it cannot install offline), the line says so calmly, without the addon's path
    if (name !== 'tensorflow') expect(lines[0]).toBe('tensorflow.js: the native binding (@tensorflow/tfjs-node, optional) is not installed; using the next backend (docs/configuration.md)');
    // the chosen backend computes
    expect(tf.tidy(() => tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]])).dataSync()[0])).toBe(11);
  });

  it('honours an explicit choice of the pure JavaScript fallback', async () => {
    const lines: string[] = [];
    expect(await selectBackend((m) => lines.push(m), 'cpu')).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(lines).toEqual(['tensorflow.js backend: cpu (pure JavaScript)']);
  });
});
