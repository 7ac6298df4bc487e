import { counted, defineFeature } from './schema.ts';

/** Adoption: how much of the product the account has taken up. */
export const adoption = [
  defineFeature({ name: 'feature_areas_28d', label: 'Product areas used, 28 days', risk: 'decreasing', family: 'adoption', kind: 'distinct_areas', window: { days: 28 }, unit: 'areas',
    ...counted('Used {value} product area{s} in the last 28 days') }),
  defineFeature({ name: 'feature_areas_90d', label: 'Product areas used, 90 days', risk: 'decreasing', family: 'adoption', kind: 'distinct_areas', window: { days: 90 }, unit: 'areas',
    ...counted('Used {value} product area{s} in the last 90 days') }),
  defineFeature({ name: 'catalog_adoption_share_90d', label: 'Share of product adopted', risk: 'decreasing', family: 'adoption', kind: 'distinct_areas', window: { days: 90 }, share: true, unit: 'share',
    description: 'Adopted {value} of the product areas in the last 90 days', whenNull: 'The product catalogue is empty' }),
  defineFeature({ name: 'areas_per_active_day_28d', label: 'Areas used per active day', risk: 'decreasing', family: 'adoption', kind: 'area_breadth', window: { days: 28 }, unit: 'areas',
    ...counted('Used {value} product area{s} on an average active day in the last 28 days'), whenNull: 'No activity in the last 28 days', missing: 'lowest' }),
  defineFeature({ name: 'key_features_28d', label: 'Key features used, 28 days', risk: 'decreasing', family: 'adoption', kind: 'distinct_areas', window: { days: 28 }, keyOnly: true, unit: 'features',
    ...counted('Used key features in {value} product area{s} in the last 28 days') }),
  defineFeature({ name: 'key_features_90d', label: 'Key features used, 90 days', risk: 'decreasing', family: 'adoption', kind: 'distinct_areas', window: { days: 90 }, keyOnly: true, unit: 'features',
    ...counted('Used key features in {value} product area{s} in the last 90 days') }),
  defineFeature({ name: 'key_feature_share_90d', label: 'Share of key features adopted', risk: 'decreasing', family: 'adoption', kind: 'distinct_areas', window: { days: 90 }, keyOnly: true, share: true, unit: 'share',
    description: 'Adopted {value} of the key features in the last 90 days', whenNull: 'The product has no key features' }),
  defineFeature({ name: 'days_to_first_value', label: 'Days to first key feature', risk: 'increasing', family: 'adoption', kind: 'first_value', withinDays: 90, unit: 'days',
    ...counted('First used a key feature {value} day{s} after sign-up'), whenNull: 'Has not used a key feature within 90 days of sign-up', missing: 'highest' }),
  defineFeature({ name: 'areas_trend_28d', label: 'Change in areas used', risk: 'decreasing', family: 'adoption', kind: 'change', mode: 'absolute', dependsOn: ['feature_areas_28d', 'feature_areas_prev_28d'], unit: 'areas',
    description: 'Product areas in use changed by {value} against the previous 28 days', whenNull: 'Account created within the last 28 days: no previous 28 days to compare with' }),
  defineFeature({ name: 'feature_areas_prev_28d', label: 'Areas used, previous 28 days', risk: 'decreasing', family: 'adoption', kind: 'distinct_areas', window: { days: 28, offsetDays: 28 }, unit: 'areas',
    ...counted('Used {value} product area{s} in the 28 days before the last 28'), whenNull: 'Account created within the last 28 days: no areas used before then' }),
];
