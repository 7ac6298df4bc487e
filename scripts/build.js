#!/usr/bin/env node
// npm run build: compiles the TypeScript sources to plain JavaScript in dist/ (tsconfig.build.json:
// ES2022 modules, `.ts` imports rewritten to `.js`), copies the files the code reads at run time
// (features/migrations/*.sql) beside it, and writes dist/.build-stamp last. Type checking is
// `npm run typecheck`; the build only emits (tsc --noCheck).
//   --if-stale   do nothing when dist/ is current (npm start's prestart)
//   --optional   without TypeScript installed (npm ci --omit=dev) say so and exit 0 (npm ci's prepare):
//                bin/churn.js then runs the sources through tsx
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { DIST, ROOT, SOURCE_DIRS, STAMP, distIsCurrent } from '../bin/dist-state.js';

const args = new Set(process.argv.slice(2));
if (args.has('--if-stale') && distIsCurrent()) process.exit(0);

let tsc;
try {
  // typescript's own tsc (node_modules/.bin/tsc may be another package's older copy)
  tsc = createRequire(path.join(ROOT, 'package.json')).resolve('typescript/bin/tsc');
} catch {
  if (args.has('--optional')) {
    console.error('churn build: TypeScript is not installed (npm ci --omit=dev?); dist/ not built, churn runs the sources through tsx');
    process.exit(0);
  }
  console.error('churn build: TypeScript is not installed; run npm ci');
  process.exit(1);
}

const t0 = performance.now();
fs.rmSync(DIST, { recursive: true, force: true });
const r = spawnSync(process.execPath, [tsc, '-p', path.join(ROOT, 'tsconfig.build.json'), '--noCheck'], { cwd: ROOT, stdio: 'inherit' });
if (r.status !== 0) {
  console.error(`churn build: tsc failed (exit ${r.status ?? r.signal}); dist/ left without its stamp, so churn runs the sources`);
  process.exit(1);
}

/** Copies every file under `dir` that is neither TypeScript nor documentation (run-time assets such as migrations). */
function copyAssets(dir) {
  for (const e of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) copyAssets(rel);
    else if (!/\.(ts|md)$/.test(e.name)) {
      fs.mkdirSync(path.join(DIST, dir), { recursive: true });
      fs.copyFileSync(path.join(ROOT, rel), path.join(DIST, rel));
    }
  }
}
for (const d of SOURCE_DIRS) copyAssets(d);
fs.writeFileSync(STAMP, `${new Date().toISOString()}\n`);
console.error(`churn build: dist/ built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
