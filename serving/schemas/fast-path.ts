import type { z } from 'zod';

/**
 * A request check that runs before a route's zod schema: it may only *accept* input the schema
 * accepts, and then returns exactly the schema's output; for anything else it returns `undefined`
 * and the schema decides (so every rejection, and its error message, still comes from zod). The zod
 * schema stays the contract: it makes the OpenAPI document and the 4xx errors, and tests hold each
 * fast path to it (tests/serving-hot-path.test.ts).
 */
export type FastPath<S extends z.ZodType> = (data: unknown) => { value: z.output<S> } | undefined;

const fastPaths = new WeakMap<object, FastPath<z.ZodType>>();

/** Attaches a fast path to a schema (returns the schema itself). */
export function withFastPath<S extends z.ZodType>(schema: S, fast: FastPath<S>): S {
  fastPaths.set(schema, fast as FastPath<z.ZodType>);
  return schema;
}

/** The fast path attached to a route schema, if any. */
export function fastPathOf(schema: unknown): FastPath<z.ZodType> | undefined {
  return typeof schema === 'object' && schema !== null ? fastPaths.get(schema) : undefined;
}
