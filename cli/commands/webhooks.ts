import type { Command } from 'commander';
import { z } from 'zod';
import { loadConfig } from '../../core/config.ts';
import { ChurnError } from '../../core/errors.ts';
import { deliveryState, listAlertDeliveries, type DeliveryRow } from '../../jobs/alerts/redrive.ts';
import { addWebhook, displayUrl, findWebhook, listWebhooks, NewWebhookSchema, removeWebhook, sendTestDelivery, WebhookUrlSchema, type WebhookRow } from '../../jobs/alerts/webhooks.ts';
import { loadServingConfig } from '../../scoring/config.ts';
import { parseOptions, withDatabase } from '../context.ts';

/** A subscription named on the command line: its id (digits) or its URL. */
const RefSchema = z.union([z.string().regex(/^\d{1,15}$/).transform(Number), WebhookUrlSchema], { error: 'name a webhook subscription by its id or its http(s) URL' });

const JsonOption = z.object({ json: z.boolean().default(false) });
const ListOptions = JsonOption.extend({ all: z.boolean().default(false) }).strict();
const AddOptions = JsonOption.extend({ secret: z.string().optional(), description: z.string().optional() }).strict();
const DeliveriesOptions = JsonOption.extend({
  dead: z.boolean().default(false),
  limit: z.coerce.number().int().min(1).max(100_000).default(50),
}).strict();

const when = (d: Date | null) => (d ? d.toISOString().slice(0, 19).replace('T', ' ') : '-');

function table(cells: string[][]): string {
  const widths = cells[0].map((_, i) => Math.max(...cells.map((c) => c[i].length)));
  return cells.map((c) => c.map((x, i) => x.padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}

function webhookTable(rows: WebhookRow[]): string {
  return table([
    ['ID', 'URL', 'SOURCE', 'STATE', 'PENDING', 'DEAD', 'CREATED', 'DESCRIPTION'],
    ...rows.map((w) => [String(w.subscription_id), displayUrl(w.url), w.source, w.active ? 'active' : `removed ${when(w.removed_at)}`, String(w.pending), String(w.dead), when(w.created_at), w.description ?? '-']),
  ]);
}

function deliveryTable(rows: DeliveryRow[]): string {
  return table([
    ['DELIVERY', 'ALERT', 'ACCOUNT', 'SEQ', 'KIND', 'STATE', 'ATTEMPTS', 'SINCE', 'LAST STATUS', 'LAST ERROR'],
    ...rows.map((r) => [String(r.outbox_id), String(r.alert_id), r.account_id, String(r.sequence), r.kind, deliveryState(r), String(r.attempts),
      when(r.delivered_at ?? r.dead_at ?? r.created_at), r.last_status === null ? '-' : String(r.last_status), (r.last_error ?? '-').slice(0, 60)]),
  ]);
}

const json = (value: unknown) => console.log(JSON.stringify(value, null, 2));

export function registerWebhooks(program: Command): void {
  const webhooks = program.command('webhooks')
    .description('webhook subscriptions of alerts: add, list, send a signed test, remove, and see deliveries (those of the serving configuration file are listed too)');

  webhooks.command('add')
    .description('add a subscription and print its signing secret (shown once; generated unless --secret)')
    .argument('<url>', 'the receiver, an http(s) URL')
    .option('--secret <secret>', 'the signing secret to use (16-200 characters)')
    .option('--description <text>', 'what the receiver is')
    .option('--json', 'print JSON', false)
    .action(async (url: string, raw: unknown) => {
      const o = parseOptions(AddOptions, raw);
      const input = parseOptions(NewWebhookSchema, { url, secret: o.secret, description: o.description });
      await withDatabase(async ({ pool }) => {
        const { webhook, secret } = await addWebhook(pool, input);
        if (o.json) return json({ ...webhook, secret });
        console.log(`added webhook ${webhook.subscription_id}: ${displayUrl(webhook.url)}`);
        console.log(`secret: ${secret}`);
        console.log('(shown once: keep it with the receiver, which checks x-churn-signature with it; churn webhooks test sends a signed sample)');
      });
    });

  webhooks.command('list')
    .description('the active subscriptions with their pending and dead-lettered deliveries (never their secrets)')
    .option('--all', 'removed subscriptions too', false)
    .option('--json', 'print JSON', false)
    .action(async (raw: unknown) => {
      const o = parseOptions(ListOptions, raw);
      await withDatabase(async ({ pool }) => {
        const rows = await listWebhooks(pool, { all: o.all });
        if (o.json) json(rows);
        else console.log(rows.length ? webhookTable(rows) : 'no webhook subscriptions (add one with churn webhooks add URL)');
      });
    });

  webhooks.command('test')
    .description('POST a signed sample payload (type churn.test) to a subscription now and print what was sent and what it answered; exits 1 unless it answered 2xx')
    .argument('<id-or-url>', 'the subscription')
    .option('--json', 'print JSON', false)
    .action(async (ref: string, raw: unknown) => {
      const o = parseOptions(JsonOption.strict(), raw);
      const target = parseOptions(RefSchema, ref);
      const { alerts } = await loadServingConfig(loadConfig().CHURN_SERVING_CONFIG);
      await withDatabase(async ({ pool }) => {
        const r = await sendTestDelivery(pool, target, { timeoutMs: alerts.timeout_ms });
        if (o.json) json(r);
        else {
          console.log(`POST ${displayUrl(r.url)}: ${r.delivered ? `delivered (${r.status}) in ${r.duration_ms} ms` : `not delivered: ${r.error}`}`);
          console.log(`x-churn-signature: ${r.signature}\nx-churn-delivery: ${r.delivery}\n${r.body}`);
        }
        if (!r.delivered) throw new ChurnError('CHURN_ERR_WEBHOOK_TEST_FAILED', `webhook ${r.subscription_id} (${displayUrl(r.url)}) did not take the test delivery: ${r.error}`);
      });
    });

  webhooks.command('remove')
    .description('remove a subscription: nothing more is sent to it and its undelivered deliveries are discarded (a URL still in the serving configuration file comes back at the next start)')
    .argument('<id-or-url>', 'the subscription')
    .action(async (ref: string) => {
      const target = parseOptions(RefSchema, ref);
      await withDatabase(async ({ pool }) => {
        const { webhook, discarded } = await removeWebhook(pool, target);
        console.log(`removed webhook ${webhook.subscription_id} (${displayUrl(webhook.url)}); ${discarded} undelivered ${discarded === 1 ? 'delivery' : 'deliveries'} discarded`);
        if (webhook.source === 'config') console.log('it is in the serving configuration file: remove it there too, or it is added again at the next start');
      });
    });

  webhooks.command('deliveries')
    .description('the newest deliveries of alerts (of one subscription when named), with their state, attempts and last error')
    .argument('[id-or-url]', 'only this subscription\'s (removed ones too)')
    .option('--dead', 'only dead-lettered deliveries (requeue with churn alerts redeliver)', false)
    .option('--limit <n>', 'at most this many deliveries', '50')
    .option('--json', 'print JSON', false)
    .action(async (ref: string | undefined, raw: unknown) => {
      const o = parseOptions(DeliveriesOptions, raw);
      const target = ref === undefined ? undefined : parseOptions(RefSchema, ref);
      await withDatabase(async ({ pool }) => {
        const subscriptionId = target === undefined ? undefined : (await findWebhook(pool, target, { removed: true })).subscription_id;
        const rows = await listAlertDeliveries(pool, { dead: o.dead, limit: o.limit, subscriptionId });
        if (o.json) json(rows.map((r) => ({ ...r, state: deliveryState(r) })));
        else console.log(rows.length ? deliveryTable(rows) : 'no deliveries');
      });
    });
}
