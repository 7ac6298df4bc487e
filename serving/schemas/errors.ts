import { z } from 'zod';

export const ErrorSchema = z.object({
  error: z.string(),
  message: z.string(),
  request_id: z.string(),
}).meta({ id: 'Error' });

/** Error responses every /v1 route documents. */
export const errorResponses = {
  400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 413: ErrorSchema, 429: ErrorSchema, 503: ErrorSchema,
};
