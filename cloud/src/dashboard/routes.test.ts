import { describe, expect, it } from 'vitest';
import { dashboardRoutes } from './routes.ts';

describe('dashboard routes', () => {
  const app = dashboardRoutes();

  it('serves the page with a self-only CSP and no inline script', async () => {
    const res = await app.request('/dashboard');
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/);
    const html = await res.text();
    expect(html).toContain('<script type="module" src="/dashboard/dashboard.js"></script>');
    expect(html.match(/<script/g)).toHaveLength(1);
    expect(html).not.toMatch(/https?:\/\//);
  });

  it('serves its scripts with a content validator, and 304 on a match', async () => {
    for (const name of ['dashboard.js', 'charts.js', 'health.js', 'retraining.js']) {
      const res = await app.request(`/dashboard/${name}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
      expect((await res.text()).length).toBeGreaterThan(1000);
      const etag = res.headers.get('etag') as string;
      expect((await app.request(`/dashboard/${name}`, { headers: { 'if-none-match': etag } })).status).toBe(
        304,
      );
    }
    expect((await app.request('/dashboard/other.js')).status).toBe(404);
  });
});
