import { counted, defineFeature } from './schema.ts';

/** Support: how much help the account needs and how well it went. */
export const support = [
  defineFeature({ name: 'tickets_28d', label: 'Tickets, last 28 days', risk: 'increasing', family: 'support', kind: 'ticket_count', window: { days: 28 }, unit: 'tickets',
    ...counted('{value} support ticket{s} opened in the last 28 days') }),
  defineFeature({ name: 'tickets_90d', label: 'Tickets, last 90 days', risk: 'increasing', family: 'support', kind: 'ticket_count', window: { days: 90 }, unit: 'tickets',
    ...counted('{value} support ticket{s} opened in the last 90 days') }),
  defineFeature({ name: 'open_tickets', label: 'Open tickets', risk: 'increasing', family: 'support', kind: 'ticket_count', only: 'open', unit: 'tickets',
    ...counted('{value} support ticket{s} open') }),
  defineFeature({ name: 'escalated_tickets_90d', label: 'Escalated tickets, 90 days', risk: 'increasing', family: 'support', kind: 'ticket_count', window: { days: 90 }, only: 'escalated', unit: 'tickets',
    ...counted('{value} ticket{s} from the last 90 days escalated') }),
  defineFeature({ name: 'high_priority_tickets_90d', label: 'Urgent tickets, 90 days', risk: 'increasing', family: 'support', kind: 'ticket_count', window: { days: 90 }, only: 'high_priority', unit: 'tickets',
    ...counted('{value} high or urgent priority ticket{s} in the last 90 days') }),
  defineFeature({ name: 'high_priority_share_90d', label: 'Share of urgent tickets', risk: 'increasing', family: 'support', kind: 'ticket_stat', window: { days: 90 }, stat: 'high_priority_share', unit: 'share',
    description: '{value} of the last 90 days\' tickets were high or urgent priority', whenNull: 'No tickets in the last 90 days', missing: 'lowest' }),
  defineFeature({ name: 'median_resolution_hours_90d', label: 'Ticket resolution time', risk: 'increasing', family: 'support', kind: 'ticket_stat', window: { days: 90 }, stat: 'median_resolution_hours', unit: 'hours',
    ...counted('Median resolution time of {value} hour{s} for tickets closed in the last 90 days'), whenNull: 'No tickets closed in the last 90 days', missing: 'lowest' }),
  defineFeature({ name: 'mean_csat_90d', label: 'Ticket satisfaction', risk: 'decreasing', family: 'support', kind: 'ticket_stat', window: { days: 90 }, stat: 'mean_csat', unit: 'score',
    description: 'Mean ticket satisfaction of {value} (1-5) over the last 90 days', whenNull: 'No rated tickets in the last 90 days' }),
  defineFeature({ name: 'tickets_trend_28d', label: 'Change in tickets', risk: 'increasing', family: 'support', kind: 'change', mode: 'absolute', dependsOn: ['tickets_28d', 'tickets_prev_28d'], unit: 'tickets',
    description: 'Tickets changed by {value} against the previous 28 days', whenNull: 'Account created within the last 28 days: no previous 28 days to compare with' }),
  defineFeature({ name: 'tickets_prev_28d', label: 'Tickets, previous 28 days', risk: 'increasing', family: 'support', kind: 'ticket_count', window: { days: 28, offsetDays: 28 }, unit: 'tickets',
    ...counted('{value} support ticket{s} opened in the 28 days before the last 28'), whenNull: 'Account created within the last 28 days: no tickets before then' }),
];
