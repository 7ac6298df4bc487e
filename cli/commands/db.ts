import type { Command } from 'commander';
import { withDatabase } from '../context.ts';
import { migrate } from '../../features/migrate.ts';

export function registerDb(program: Command): void {
  const db = program.command('db').description('database administration');
  db.command('migrate')
    .description('create or upgrade every schema (idempotent)')
    .action(async () => {
      await withDatabase(async ({ pool }) => {
        const r = await migrate(pool);
        console.log(r.applied.length ? `applied ${r.applied.map((m) => `${m.version}_${m.name}`).join(', ')}; schema at version ${r.current}` : `schema up to date at version ${r.current}`);
      }, { migrate: false });
    });
}
