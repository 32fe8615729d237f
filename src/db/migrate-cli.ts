// `npm run migrate`: apply migrations/ to DATABASE_URL (or the embedded database under DATA_DIR).
import { loadConfig } from '../config/config.ts';
import { openConfiguredDatabase } from './database.ts';
import { migrateToLatest } from './migrate.ts';

const config = loadConfig(process.env);
const database = await openConfiguredDatabase(config);
try {
  const applied = await migrateToLatest(database.db);
  process.stdout.write(applied.length > 0 ? `applied: ${applied.join(', ')}\n` : 'already up to date\n');
} finally {
  await database.close();
}
