import cliProgress from 'cli-progress';

export interface Progress {
  start(total: number, label?: string): void;
  update(value: number): void;
  increment(delta?: number): void;
  stop(): void;
}

/** A progress bar on stderr when it is a terminal; silent otherwise (CI logs, pipes, tests). */
export function createProgress(label: string, enabled = process.stderr.isTTY === true): Progress {
  if (!enabled) return { start() {}, update() {}, increment() {}, stop() {} };
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
