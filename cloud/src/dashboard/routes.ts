// GET /dashboard and its two scripts. Public files: the data they show comes from the operator API,
// which checks the token on every request.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Hono } from 'hono';
import { makeAsset, type StaticAsset, sendAsset } from '../web/static-asset.ts';
import { DASHBOARD_ASSETS, DASHBOARD_HEADERS, DASHBOARD_PATH, dashboardPage } from './page.ts';

type AssetName = (typeof DASHBOARD_ASSETS)[number];

export function dashboardRoutes() {
  const html = dashboardPage();
  // Read once per process; a failed read is retried by the next request.
  const assets = new Map<AssetName, Promise<StaticAsset>>();
  const asset = (name: AssetName) => {
    let pending = assets.get(name);
    if (!pending) {
      pending = readFile(new URL(`./assets/${name}`, import.meta.url)).then((bytes) =>
        makeAsset(
          'text/javascript; charset=utf-8',
          `"${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}"`,
          bytes,
        ),
      );
      pending.catch(() => assets.delete(name));
      assets.set(name, pending);
    }
    return pending;
  };

  const app = new Hono();
  app.get(DASHBOARD_PATH, (c) => c.html(html, 200, DASHBOARD_HEADERS));
  for (const name of DASHBOARD_ASSETS) {
    app.get(`${DASHBOARD_PATH}/${name}`, async (c) =>
      sendAsset(c, await asset(name), { 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff' }),
    );
  }
  return app;
}
