import type { Command } from 'commander';
import { z } from 'zod';
import { deliveryState, listAlertDeliveries, RedeliverSelectionSchema, redeliverDead, type DeliveryRow } from '../../jobs/alerts/redrive.ts';
import { parseOptions, withDatabase } from '../context.ts';

const RedeliverOptions = z.object({
  all: z.boolean().default(false),
  subscription: z.string().min(1).optional(),
  alert: z.string().regex(/^\d{1,15}$/, 'an alert id is a positive integer').transform(Number).optional(),
}).strict();

const ListOptions = z.object({
  dead: z.boolean().default(false),
  json: z.boolean().default(false),
  limit: z.coerce.number().int().min(1).max(100_000).default(50),
}).strict();

const when = (d: Date | null) => (d ? d.toISOString().slice(0, 19).replace('T', ' ') : '-');

function table(rows: DeliveryRow[]): string {
  const cells = [
    ['DELIVERY', 'ALERT', 'ACCOUNT', 'SEQ', 'KIND', 'SUBSCRIPTION', 'STATE', 'ATTEMPTS', 'SINCE', 'LAST ERROR'],
    ...rows.map((r) => [String(r.outbox_id), String(r.alert_id), r.account_id, String(r.sequence), r.kind, `${r.subscription_id} ${r.url}`, deliveryState(r),
      String(r.attempts), when(r.delivered_at ?? r.dead_at ?? r.created_at), (r.last_error ?? '-').slice(0, 60)]),
  ];
  const widths = cells[0].map((_, i) => Math.max(...cells.map((c) => c[i].length)));
  return cells.map((c) => c.map((x, i) => x.padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}

export function registerAlerts(program: Command): void {
  const alerts = program.command('alerts').description('webhook deliveries of alerts: list them, requeue dead-lettered ones');

  alerts.command('list')
    .description('the newest webhook deliveries (delivered, pending or dead-lettered), newest first')
    .option('--dead', 'only dead-lettered deliveries (failed max_attempts times; requeue with churn alerts redeliver)', false)
    .option('--json', 'print JSON instead of a table', false)
    .option('--limit <n>', 'at most this many deliveries', '50')
    .action(async (raw: unknown) => {
      const o = parseOptions(ListOptions, raw);
      await withDatabase(async ({ pool }) => {
        const rows = await listAlertDeliveries(pool, { dead: o.dead, limit: o.limit });
        if (o.json) console.log(JSON.stringify(rows.map((r) => ({ ...r, state: deliveryState(r) })), null, 2));
        else if (!rows.length) console.log(o.dead ? 'no dead-lettered deliveries' : 'no webhook deliveries yet');
        else console.log(table(rows));
      });
    });

  alerts.command('redeliver')
    .description('requeue dead-lettered deliveries (attempts reset, due now); the server\'s next delivery round (or churn score) sends them')
    .option('--all', 'every dead-lettered delivery', false)
    .option('--subscription <url-or-id>', 'only those to this webhook subscription (its id or URL)')
    .option('--alert <id>', 'only those of this alert')
    .action(async (raw: unknown) => {
      const o = parseOptions(RedeliverOptions, raw);
      const selection = parseOptions(RedeliverSelectionSchema, { all: o.all, subscription: o.subscription, alert_id: o.alert });
      await withDatabase(async ({ pool }) => {
        const r = await redeliverDead(pool, selection);
        console.log(r.requeued ? `requeued ${r.requeued} dead-lettered ${r.requeued === 1 ? 'delivery' : 'deliveries'}; the next delivery round sends them` : 'nothing to requeue: no dead-lettered delivery matches');
      });
    });
}
