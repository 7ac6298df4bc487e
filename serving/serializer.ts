import fastJson from 'fast-json-stringify';
import type { FastifySerializerCompiler } from 'fastify';
import { serializerCompiler as zodSerializerCompiler } from 'fastify-type-provider-zod';
import { z } from 'zod';

/**
 * Response serializer compiled from each route's zod response schema: the schema's output JSON
 * Schema (`z.toJSONSchema`, the one the OpenAPI document shows) is compiled once with
 * fast-json-stringify, which writes only the declared properties in the declared types. Responses
 * are built by our own code in the contract shape, so this replaces zod's per-response encode and
 * re-check (the hot routes' largest cost after the socket write). A schema that has no JSON Schema
 * form (a transform in the output, say) keeps zod's serializer.
 */
export const compiledSerializerCompiler: FastifySerializerCompiler<unknown> = (route) => {
  const schema = route.schema;
  if (schema instanceof z.ZodType) {
    try {
      const json = z.toJSONSchema(schema, { io: 'output', target: 'draft-7', unrepresentable: 'throw' });
      return fastJson(json as fastJson.AnySchema, { rounding: 'round' });
    } catch {
      // no JSON Schema form: zod encodes and checks this route's responses
    }
  }
  return (zodSerializerCompiler as unknown as FastifySerializerCompiler<unknown>)(route);
};
