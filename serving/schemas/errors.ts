import { z } from 'zod';
import { ERROR_EXAMPLE } from './examples.ts';

export const ErrorSchema = z.object({
  error: z.string(),
  message: z.string(),
  request_id: z.string(),
  /** every problem (up to 200) when the input had several: the instance's index, the feature, the reason (`POST /v1/predict`) */
  problems: z.array(z.object({ row: z.number().int(), feature: z.string(), reason: z.string() })).optional().describe('every problem (up to 200) when the input had several: the instance\'s index, the feature, the reason'),
}).meta({ id: 'Error', description: 'every error: a stable code (core/errors.ts), a message for people and the request id (also in `x-request-id`)', examples: [ERROR_EXAMPLE] });

/** Error responses every /v1 route documents (their descriptions: serving/openapi.ts). */
export const errorResponses = {
  400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 413: ErrorSchema, 429: ErrorSchema, 500: ErrorSchema, 503: ErrorSchema,
};
