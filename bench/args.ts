import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { z } from 'zod';
import { describeIssues, plainIssue } from '../core/errors.ts';

/**
 * A benchmark's command line read with node:util's parseArgs and checked against its zod schema. An
 * unknown option or a bad value ends the run with one line naming the option and what was given
 * (exit code 2, a usage error) instead of a stack trace or zod's dump.
 */
export function benchArgs<S extends z.ZodType>(name: string, schema: S, config: Omit<ParseArgsConfig, 'args'>): z.infer<S> {
  let values: Record<string, unknown>;
  try {
    values = parseArgs(config).values;
  } catch (err) {
    return usage(name, err instanceof Error ? err.message : String(err));
  }
  const parsed = schema.safeParse(values);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => {
    const key = i.path[0];
    const given = typeof key === 'string' ? values[key] : undefined;
    return { path: typeof key === 'string' ? [`--${key}`, ...i.path.slice(1)] : i.path, message: given === undefined ? i.message : `${plainIssue(i, given).message} (given: ${JSON.stringify(given)})` };
  });
  return usage(name, describeIssues(issues));
}

function usage(name: string, message: string): never {
  console.error(`${name}: ${message}`);
  process.exit(2);
}
