import path from 'node:path';
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

const require = createRequire(import.meta.url);
let selected: BackendName | undefined;

/**
 * Picks the fastest TensorFlow.js backend that works here, once per process: the native
 * `@tensorflow/tfjs-node` binding when its binary is installed, else WebAssembly, else pure JS.
 * `preferred` (the CLI passes `CHURN_TF_BACKEND`) forces one; an unavailable preference falls through.
 */
export async function selectBackend(log: (msg: string) => void = () => undefined, preferred?: string): Promise<BackendName> {
  if (selected && (!preferred || preferred === selected)) return selected;
  const order: BackendName[] = ['tensorflow', 'wasm', 'cpu'];
  const tryOrder = preferred && order.includes(preferred as BackendName) ? [preferred as BackendName, ...order.filter((b) => b !== preferred)] : order;
  for (const name of tryOrder) {
    const reason = await tryBackend(name);
    if (reason === null) {
      selected = name;
      log(`tensorflow.js backend: ${name}${name === 'cpu' ? ' (pure JavaScript)' : ''}`);
      return name;
    }
    // the native binding is an optional dependency that cannot install offline: its absence is the usual case, not a fault
    const notInstalled = name === 'tensorflow' && /tfjs_binding\.node|Cannot find (module|package) '@tensorflow\/tfjs-node'/.test(reason);
    log(notInstalled
      ? 'tensorflow.js: the native binding (@tensorflow/tfjs-node, optional) is not installed; using the next backend (docs/configuration.md)'
      : `tensorflow.js backend ${name} unavailable: ${reason}`);
  }
  throw new Error('no TensorFlow.js backend could be initialised');
}

async function tryBackend(name: BackendName): Promise<string | null> {
  try {
    if (name === 'tensorflow') {
      // The native binding registers itself on import; it throws when its binary is missing.
      await import('@tensorflow/tfjs-node' as string);
    } else if (name === 'wasm') {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      const dist = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
      wasm.setWasmPaths(dist + path.sep);
    }
    const ok = await tf.setBackend(name);
    if (!ok) return 'setBackend returned false';
    await tf.ready();
    // A tiny computation proves the kernels run.
    const probe = tf.tidy(() => tf.tensor1d([1, 2]).sum().dataSync()[0]);
    return probe === 3 ? null : 'probe computation failed';
  } catch (err) {
    return ((err as Error).message ?? String(err)).split('\n')[0].slice(0, 160);
  }
}

/** The backend currently in use (after `selectBackend`). */
export function currentBackend(): string {
  return tf.getBackend();
}
