// A fresh schema in the real test Postgres, migrated, per test file.
import pg from 'pg';
import { openPostgres, type Database } from '../../src/db/database.ts';
import { migrateToLatest } from '../../src/db/migrate.ts';
import { TEST_DATABASE_URL, uniqueName } from './services.ts';

export interface TestDatabase extends Database {
  schema: string;
}

/** `url`: another server than the shared test Postgres, e.g. one the test starts and stops. */
export async function createTestDatabase(label: string, url = TEST_DATABASE_URL): Promise<TestDatabase> {
  const schema = uniqueName(label);
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`create schema ${schema}`);
  await admin.end();
  const database = openPostgres({ url, searchPath: schema, maxConnections: 20 });
  await migrateToLatest(database.db);
  return {
    ...database,
    schema,
    close: async () => {
      await database.close();
      const cleanup = new pg.Client({ connectionString: url });
      await cleanup.connect();
      await cleanup.query(`drop schema ${schema} cascade`);
      await cleanup.end();
    },
  };
}
