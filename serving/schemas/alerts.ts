import { z } from 'zod';
import { RedeliverSelectionSchema } from '../../jobs/alerts/redrive.ts';

/** POST /v1/alerts/redeliver: which dead-lettered deliveries to requeue (at least one selector). */
export const RedeliverBodySchema = RedeliverSelectionSchema.meta({
  id: 'RedeliverRequest',
  description: '`{ "all": true }`, or `subscription` (its id or URL) and/or `alert_id`: the dead-lettered deliveries to requeue',
});

export const RedeliverResponseSchema = z.object({
  requeued: z.number().int().min(0).describe('dead-lettered deliveries put back in the queue (attempts reset, due now)'),
}).meta({ id: 'RedeliverResponse' });
