import { z } from 'zod';

/** Query of GET /v1/reports/latest and /v1/reports/:version. */
export const ReportQuerySchema = z.object({
  format: z.enum(['html', 'json']).default('html').describe('html (default) or json, the JSON twin'),
  token: z.string().max(200).optional()
    .describe('a signed report link token (`churn report --link`): opens this report without an Authorization header until it expires'),
});
export type ReportQuery = z.infer<typeof ReportQuerySchema>;
