import { adoption } from './adoption.ts';
import { commercial } from './commercial.ts';
import { engagement } from './engagement.ts';
import { sentiment } from './sentiment.ts';
import { support } from './support.ts';
import { usage } from './usage.ts';
import type { FeatureInput } from './schema.ts';

/** Every feature of the product, family by family (the catalogue reorders derived ones after their inputs). */
export const ALL_DEFINITIONS: readonly FeatureInput[] = [...engagement, ...usage, ...adoption, ...support, ...commercial, ...sentiment];
