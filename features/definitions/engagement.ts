import { counted, defineFeature } from './schema.ts';

/** Engagement: how many people use the product, and how regularly. */
export const engagement = [
  defineFeature({ name: 'active_users_7d', label: 'Active users, last 7 days', risk: 'decreasing', family: 'engagement', kind: 'active_users', window: { days: 7 }, unit: 'users',
    ...counted('{value} user{s} active in the last 7 days') }),
  defineFeature({ name: 'active_users_28d', label: 'Active users, last 28 days', risk: 'decreasing', family: 'engagement', kind: 'active_users', window: { days: 28 }, unit: 'users',
    ...counted('{value} user{s} active in the last 28 days') }),
  defineFeature({ name: 'active_users_prev_28d', label: 'Active users, previous 28 days', risk: 'decreasing', family: 'engagement', kind: 'active_users', window: { days: 28, offsetDays: 28 }, unit: 'users',
    ...counted('{value} user{s} active in the 28 days before the last 28'), whenNull: 'Account created within the last 28 days: no active users before then' }),
  defineFeature({ name: 'active_users_trend_28d', label: 'Change in active users', risk: 'decreasing', family: 'engagement', kind: 'change', mode: 'relative', dependsOn: ['active_users_28d', 'active_users_prev_28d'], unit: 'change',
    description: 'Active users changed by {value} against the previous 28 days', whenNull: 'No active users in the previous 28 days to compare with (none, or the account is newer)' }),
  defineFeature({ name: 'stickiness_28d', label: 'Stickiness (daily/monthly users)', risk: 'decreasing', family: 'engagement', kind: 'stickiness', window: { days: 28 }, unit: 'ratio',
    description: 'Stickiness (daily over monthly active users) of {value} over the last 28 days', whenNull: 'No active users in the last 28 days', missing: 'lowest' }),
  defineFeature({ name: 'licensed_users', label: 'Provisioned users', family: 'engagement', kind: 'user_count', unit: 'users',
    ...counted('{value} user account{s} provisioned') }),
  defineFeature({ name: 'active_users_per_seat_28d', label: 'Active users per seat', risk: 'decreasing', family: 'engagement', kind: 'ratio', dependsOn: ['active_users_28d', 'seats'], unit: 'ratio',
    ...counted('{value} active user{s} per licensed seat over the last 28 days'), whenNull: 'No licensed seats' }),
  // over the users provisioned at some time in the 28 days, not only those still provisioned: a user
  // removed last week was active this month, and the share would pass 100%
  defineFeature({ name: 'active_user_share_28d', label: 'Share of users active', risk: 'decreasing', family: 'engagement', kind: 'user_share', dependsOn: ['active_users_28d'], window: { days: 28 }, unit: 'share',
    description: '{value} of provisioned users active in the last 28 days', whenNull: 'No users provisioned in the last 28 days', missing: 'lowest' }),
  defineFeature({ name: 'events_per_active_user_28d', label: 'Events per active user', risk: 'decreasing', family: 'engagement', kind: 'ratio', dependsOn: ['events_28d', 'active_users_28d'], unit: 'events_per_user',
    ...counted('{value} event{s} per active user in the last 28 days'), whenNull: 'No active users in the last 28 days', missing: 'lowest' }),
];
