import type { Command } from 'commander';
import { z } from 'zod';
import { ChurnError } from '../../core/errors.ts';
import { parseOptions, withDatabase } from '../context.ts';
import { createApiKey, KeyNameSchema, listApiKeys, revokeApiKey, SCOPES } from '../../serving/keys.ts';

const CreateOptions = z.object({
  name: KeyNameSchema,
  scopes: z.string().default('score:read').transform((s) => s.split(/[,+]/).map((x) => x.trim()).filter(Boolean)),
});

export function registerKeys(program: Command): void {
  const keys = program.command('keys').description('API keys (stored hashed; the secret is shown once)');
  keys.command('create')
    .description('create an API key and print its secret')
    .requiredOption('--name <name>', 'a label for the key (letters, digits, . _ -)')
    .option('--scopes <scopes>', `comma-separated scopes among ${SCOPES.join(', ')}`, 'score:read')
    .action(async (raw) => {
      const opts = parseOptions(CreateOptions, raw);
      await withDatabase(async ({ pool }) => {
        const secret = await createApiKey(pool, { name: opts.name, scopes: opts.scopes });
        console.log(secret);
      });
    });
  keys.command('revoke')
    .description('revoke every active key with this name or prefix')
    .argument('<name-or-prefix>', 'the key name, or the 8 hex digits after chl_')
    .action(async (nameOrPrefix: string) => {
      await withDatabase(async ({ pool }) => {
        const n = await revokeApiKey(pool, nameOrPrefix);
        if (!n) throw new ChurnError('CHURN_ERR_NOT_FOUND', `no active API key named or prefixed '${nameOrPrefix}'`);
        console.log(`revoked ${n} key${n === 1 ? '' : 's'}`);
      });
    });
  keys.command('list')
    .description('list keys (never their secrets)')
    .action(async () => {
      await withDatabase(async ({ pool }) => {
        for (const k of await listApiKeys(pool)) {
          console.log(`${k.name}\tchl_${k.key_prefix}_…\t${k.scopes.join('+')}\t${k.revoked_at ? `revoked ${k.revoked_at.toISOString()}` : 'active'}\t${k.last_used_at ? `last used ${k.last_used_at.toISOString()}` : 'never used'}`);
        }
      });
    });
}
