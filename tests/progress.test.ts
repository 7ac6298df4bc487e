import { describe, expect, it } from 'vitest';
import { createProgress, noProgress } from '../core/progress.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('progress off a terminal', () => {
  it('prints a plain line every interval while the job runs, and a last one at the end', async () => {
    const lines: string[] = [];
    const p = createProgress('ingest events', { mode: 'lines', intervalMs: 40, unit: 'bytes', write: (l) => lines.push(l) });
    p.start(1e9);
    p.update(4.1e8, { rows: 3_200_000 });
    await sleep(130);
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines[0]).toMatch(/^ingest events: 3,200,000 rows, 410 MB of 1\.0 GB \(41%\) after 0s$/);
    p.update(1e9, { rows: 7_800_000 });
    const printed = lines.length;
    p.stop();
    expect(lines.slice(printed)).toEqual([expect.stringMatching(/^ingest events: 7,800,000 rows, 1\.0 GB of 1\.0 GB \(100%\) after 0s$/)]);
    await sleep(100);
    expect(lines).toHaveLength(printed + 1); // stopped: no more lines
  });

  it('says nothing for a job shorter than the interval (tests, small files), and counts plain values', async () => {
    const lines: string[] = [];
    const quick = createProgress('features', { mode: 'lines', write: (l) => lines.push(l) });
    quick.start(100);
    quick.increment(100);
    quick.stop();
    expect(lines).toEqual([]);
    const counted = createProgress('feature snapshots', { mode: 'lines', intervalMs: 30, write: (l) => lines.push(l) });
    counted.start(6000);
    counted.increment(1200);
    await sleep(50);
    counted.stop();
    expect(lines[0]).toBe('feature snapshots: 1,200 of 6,000 (20%) after 0s');
    expect(createProgress('x', { mode: 'off' })).toBe(noProgress);
  });
});
