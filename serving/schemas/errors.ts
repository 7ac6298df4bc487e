import { z } from 'zod';

export const ErrorSchema = z.object({
  error: z.string(),
  message: z.string(),
  request_id: z.string(),
  /** every problem (up to 200) when the input had several: the instance's index, the feature, the reason (`POST /v1/predict`) */
  problems: z.array(z.object({ row: z.number().int(), feature: z.string(), reason: z.string() })).optional(),
}).meta({ id: 'Error' });

/** Error responses every /v1 route documents. */
export const errorResponses = {
  400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 413: ErrorSchema, 429: ErrorSchema, 503: ErrorSchema,
};
