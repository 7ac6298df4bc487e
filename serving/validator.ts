import type { FastifySchemaCompiler } from 'fastify';
import { validatorCompiler } from 'fastify-type-provider-zod';
import type { z } from 'zod';
import { fastPathOf } from './schemas/fast-path.ts';

/**
 * Request validation from each route's zod schemas (fastify-type-provider-zod), with a schema's fast
 * path (schemas/fast-path.ts) tried first: it accepts the common valid input without zod's generic
 * walk and hands everything else to zod, which then accepts or answers with its usual 400.
 */
export const fastPathValidatorCompiler: FastifySchemaCompiler<z.ZodType> = (route) => {
  const full = validatorCompiler(route);
  const fast = fastPathOf(route.schema);
  if (!fast) return full;
  return (data: unknown) => fast(data) ?? full(data);
};
