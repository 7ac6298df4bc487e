#!/usr/bin/env node
// The `churn` command. TypeScript sources run through tsx's loader, so no build step is needed.
import { register } from 'tsx/esm/api';
register();
const { main } = await import('../cli/main.ts');
await main(process.argv);
