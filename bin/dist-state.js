// Whether dist/ (the JavaScript `npm run build` compiles) was built from the current sources: its stamp
// is newer than every file and folder under the source folders and than the two tsconfig files (a
// folder's time changes when a file in it is added, removed or renamed). About 2 ms for 200 files.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const DIST = path.join(ROOT, 'dist');
export const STAMP = path.join(DIST, '.build-stamp');
/** the folders compiled into dist/ (tsconfig.build.json's `include`) */
export const SOURCE_DIRS = ['core', 'features', 'training', 'scoring', 'jobs', 'serving', 'cli'];
const CONFIGS = ['tsconfig.json', 'tsconfig.build.json'];

function newestUnder(dir) {
  let newest = 0;
  let entries;
  try {
    newest = fs.statSync(dir).mtimeMs;
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0; // absent (an image that ships dist/ only)
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestUnder(p) : fs.statSync(p).mtimeMs);
  }
  return newest;
}

/** The newest modification time of anything the build reads (0 when no sources are present). */
export function newestSource() {
  let newest = 0;
  for (const d of SOURCE_DIRS) newest = Math.max(newest, newestUnder(path.join(ROOT, d)));
  for (const f of CONFIGS) {
    try {
      newest = Math.max(newest, fs.statSync(path.join(ROOT, f)).mtimeMs);
    } catch {
      // absent
    }
  }
  return newest;
}

export function distIsCurrent() {
  let built;
  try {
    built = fs.statSync(STAMP).mtimeMs;
  } catch {
    return false; // never built, or a build in progress or interrupted (the stamp is written last)
  }
  return newestSource() <= built;
}
