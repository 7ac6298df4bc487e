#!/usr/bin/env node
// The `churn` command. It runs the JavaScript that `npm run build` compiled into dist/ when dist/ was
// built from the current sources, else the TypeScript sources through tsx (a developer's edit, tests
// after one): never stale code, and no compile step at each start once built (docs/operations.md).
import { distIsCurrent } from './dist-state.js';

async function fromSources() {
  const { register } = await import('tsx/esm/api');
  register();
  return import('../cli/main.ts');
}

const { run } = distIsCurrent() ? await import('../dist/cli/main.js') : await fromSources();
await run(process.argv);
