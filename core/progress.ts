import cliProgress from 'cli-progress';

export interface ProgressInfo {
  /** rows read so far, when the value counts something else (bytes) */
  rows?: number;
}

export interface Progress {
  start(total: number, label?: string): void;
  update(value: number, info?: ProgressInfo): void;
  increment(delta?: number): void;
  stop(): void;
}

export interface ProgressOptions {
  /**
   * `bar`: a bar redrawn in place (on a terminal); `lines`: a plain line now and then (logs, pipes);
   * `off`. Default: `bar` when stderr is a terminal, else `lines`.
   */
  mode?: 'bar' | 'lines' | 'off';
  /** lines: one line every this many milliseconds while the job runs, the first after as long (default 10 s), so short jobs print nothing */
  intervalMs?: number;
  /** what the value counts: bytes print as MB or GB */
  unit?: 'count' | 'bytes';
  /** lines: where they go (default stderr) */
  write?: (line: string) => void;
}

const count = (n: number) => Math.round(n).toLocaleString('en-US');

function amount(n: number, unit: ProgressOptions['unit']): string {
  if (unit !== 'bytes') return count(n);
  return n >= 1e9 ? `${(n / 1e9).toFixed(1)} GB` : `${(n / 1e6).toFixed(n >= 1e8 ? 0 : 1)} MB`;
}

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/**
 * Plain progress lines for logs: `ingest events: 3,200,000 rows, 412 MB of 1.0 GB (41%) after 2m10s`,
 * one every `intervalMs` from a timer (so a job busy after its last update still shows it is alive),
 * and a last one at the end when any was printed.
 */
function lineProgress(label: string, opts: ProgressOptions): Progress {
  const intervalMs = opts.intervalMs ?? 10_000;
  const write = opts.write ?? ((line: string) => void process.stderr.write(`${line}\n`));
  let total = 0;
  let value = 0;
  let rows: number | undefined;
  let started = 0;
  let printed = false;
  let timer: NodeJS.Timeout | undefined;
  const line = () => {
    const pct = total > 0 ? ` (${Math.min(100, Math.floor((100 * value) / total))}%)` : '';
    const what = `${rows === undefined ? '' : `${count(rows)} rows, `}${amount(value, opts.unit)}${total > 0 ? ` of ${amount(total, opts.unit)}` : ''}`;
    write(`${label}: ${what}${pct} after ${duration(performance.now() - started)}`);
    printed = true;
  };
  return {
    start: (t) => {
      total = t;
      value = 0;
      started = performance.now();
      clearInterval(timer);
      timer = setInterval(line, intervalMs);
      timer.unref();
    },
    update: (v, info) => {
      value = v;
      if (info?.rows !== undefined) rows = info.rows;
    },
    increment: (d = 1) => void (value += d),
    stop: () => {
      if (timer === undefined) return;
      clearInterval(timer);
      timer = undefined;
      if (printed) line();
    },
  };
}

/** A progress bar on stderr when it is a terminal; plain lines every 10 s otherwise (CI logs, pipes). */
export function createProgress(label: string, opts: ProgressOptions = {}): Progress {
  const mode = opts.mode ?? (process.stderr.isTTY === true ? 'bar' : 'lines');
  if (mode === 'off') return noProgress;
  if (mode === 'lines') return lineProgress(label, opts);
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {percentage}% | {value}/{total} | eta {eta_formatted}`, stream: process.stderr, hideCursor: true, etaBuffer: 50 },
    cliProgress.Presets.shades_classic,
  );
  return {
    start: (total) => bar.start(total, 0),
    update: (v) => bar.update(v),
    increment: (d = 1) => bar.increment(d),
    stop: () => bar.stop(),
  };
}

export const noProgress: Progress = { start() {}, update() {}, increment() {}, stop() {} };
