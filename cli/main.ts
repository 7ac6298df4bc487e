import { Command, CommanderError } from 'commander';
import { reportError } from './context.ts';
import { registerDb } from './commands/db.ts';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('churn')
    .description('Churnlens: churn prediction and customer health from your PostgreSQL data')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerDb(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here with code 0; usage errors already printed their reason.
      process.exitCode = err.exitCode;
      return;
    }
    reportError(err);
  }
}
