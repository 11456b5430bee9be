// drizzle-kit: `pnpm --filter @edgeloop/cloud db:generate` diffs src/db/schema.ts against the last
// snapshot in drizzle/meta and writes the next SQL migration. The cloud applies drizzle/ at start
// (src/db/migrate.ts) on PGlite and PostgreSQL alike.
import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: './src/db/schema.ts',
  out: './drizzle',
});
