/** The code's git revision, recorded as lineage. Called by entry points (training), never at import. */
import { execFile } from 'node:child_process';

/** `git rev-parse HEAD` in `cwd`; 'unknown' outside a repository or without git. */
export function gitRevision(cwd: string = process.cwd()): Promise<string> {
  return new Promise((resolve) => {
    execFile('git', ['rev-parse', 'HEAD'], { cwd, timeout: 5000 }, (err, stdout) => {
      const rev = String(stdout ?? '').trim();
      resolve(!err && /^[0-9a-f]{7,64}$/.test(rev) ? rev : 'unknown');
    });
  });
}
