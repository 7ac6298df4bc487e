#!/usr/bin/env node
// The `churn` command. TypeScript sources run through tsx's loader, so no build step is needed.
import { register } from 'tsx/esm/api';
register();
const { run } = await import('../cli/main.ts');
await run(process.argv);
