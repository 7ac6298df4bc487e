import type { KindDef } from '../definitions/schema.ts';
import { inWindow, type Template } from './builder.sql.ts';

/*
 * Support tickets (`tk`: one row per (as_of, account) over the tickets opened before as_of). A ticket's
 * later facts count only once known: closed (and its CSAT) if closed_at < as_of, escalated if
 * escalated_at < as_of. The ticket's current `status` and `escalated` flag are never read (they
 * describe today, not as_of).
 */
const HIGH = "t.priority IN ('high', 'urgent')";

export const ticketCount: Template<KindDef<'ticket_count'>> = (def, b) => {
  const conds: string[] = [];
  if (def.window) conds.push(inWindow('t.opened_at', 'p.as_of', def.window));
  if (def.only === 'open') conds.push('(t.closed_at IS NULL OR t.closed_at >= p.as_of)');
  if (def.only === 'escalated') conds.push('t.escalated_at < p.as_of');
  if (def.only === 'high_priority') conds.push(HIGH);
  const agg = conds.length ? `count(*) FILTER (WHERE ${conds.join(' AND ')})` : 'count(*)';
  return `coalesce(${b.col('tk', agg)}, 0)`;
};

export const ticketStat: Template<KindDef<'ticket_stat'>> = (def, b) => {
  const opened = inWindow('t.opened_at', 'p.as_of', def.window);
  const closed = inWindow('t.closed_at', 'p.as_of', def.window);
  switch (def.stat) {
    case 'high_priority_share':
      return `${b.col('tk', `count(*) FILTER (WHERE ${opened} AND ${HIGH})`)}::float8 / nullif(${b.col('tk', `count(*) FILTER (WHERE ${opened})`)}, 0)`;
    case 'median_resolution_hours':
      return b.col('tk', `percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM (t.closed_at - t.opened_at)) / 3600) FILTER (WHERE ${closed})`);
    case 'mean_csat':
      return b.col('tk', `avg(t.csat::float8) FILTER (WHERE ${closed} AND t.csat IS NOT NULL)`);
  }
};
