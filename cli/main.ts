import { Command, CommanderError } from 'commander';
import { reportError } from './context.ts';
import { exitAfterCleanup, installProcessHandlers, reportFailure } from './lifecycle.ts';
import { registerAlerts } from './commands/alerts.ts';
import { registerDataset } from './commands/dataset.ts';
import { registerDb } from './commands/db.ts';
import { registerFeatures } from './commands/features.ts';
import { registerGenerate } from './commands/generate.ts';
import { registerHistory } from './commands/history.ts';
import { registerIngest } from './commands/ingest.ts';
import { registerKeys } from './commands/keys.ts';
import { registerModels } from './commands/models.ts';
import { registerMonitor } from './commands/monitor.ts';
import { registerPredict } from './commands/predict.ts';
import { registerReport } from './commands/report.ts';
import { registerScore } from './commands/score.ts';
import { registerServe } from './commands/serve.ts';
import { registerStart } from './commands/start.ts';
import { registerTrain } from './commands/train.ts';
import { registerWebhooks } from './commands/webhooks.ts';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('churn')
    .description('Churnlens: churn prediction and customer health from your PostgreSQL data')
    .version('0.1.0')
    .enablePositionalOptions() // its --version and --help come before a command: `churn report --version 3` is not the program's version
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  // In the order a user meets them: set up, data, features, models, serving.
  registerStart(program);
  registerDb(program);
  registerIngest(program);
  registerGenerate(program);
  registerFeatures(program);
  registerDataset(program);
  registerTrain(program);
  registerPredict(program);
  registerModels(program);
  registerReport(program);
  registerMonitor(program);
  registerScore(program);
  registerAlerts(program);
  registerWebhooks(program);
  registerServe(program);
  registerKeys(program);
  registerHistory(program);
  return program;
}

const HELP_FLAGS = new Set(['--help', '-h']);

/**
 * `argv` without its help flags when it names a command that does not exist (`churn frobnicate
 * --help`, `churn models frobnicate -h`): commander would print the nearest known command's help and
 * exit 0, where an unknown command fails (exit 1, "unknown command") however it is asked.
 */
export function helpOfUnknownCommandDropped(program: Command, argv: string[]): string[] {
  let cmd = program;
  for (const arg of argv.slice(2)) {
    if (arg.startsWith('-')) continue;
    if (!cmd.commands.length || arg === 'help') return argv;
    const next = cmd.commands.find((c) => c.name() === arg || c.aliases().includes(arg));
    if (!next) return argv.filter((a, i) => i < 2 || !HELP_FLAGS.has(a));
    cmd = next;
  }
  return argv;
}

/** Runs one command and sets `process.exitCode` (1 after a failure); the caller decides when the process ends. */
export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(helpOfUnknownCommandDropped(program, argv));
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here with code 0; usage errors already printed their reason.
      process.exitCode = err.exitCode;
      return;
    }
    await reportFailure(err, reportError);
  }
}

/**
 * The entry point (bin/churn.js): runs one command with the process handlers of cli/lifecycle.ts and
 * exits with its code, 0 or 1, explicitly (a library's exit hook must not turn a failure into 0).
 */
export async function run(argv: string[]): Promise<never> {
  installProcessHandlers(reportError);
  await main(argv);
  return exitAfterCleanup(Number(process.exitCode ?? 0));
}
