// Allowed origins of an app key: exact browser origins (`https://shop.example.com`,
// `http://localhost:5173`) or `*` for any. Origins are compared as the browser sends them, so they
// are normalised once, when the key is created (lower-case host, no default port, no trailing /).
import { z } from 'zod';

export const ANY_ORIGIN = '*';

/** An origin as given by an operator, normalised; anything with a path, query or user is refused. */
export const allowedOriginSchema = z
  .string()
  .max(255)
  .transform((value, ctx) => {
    if (value === ANY_ORIGIN) return value;
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      ctx.addIssue({ code: 'custom', message: `not an origin: ${value}` });
      return z.NEVER;
    }
    const bare = url.pathname === '/' && !url.search && !url.hash && !url.username && !url.password;
    if (!['http:', 'https:'].includes(url.protocol) || !bare) {
      ctx.addIssue({
        code: 'custom',
        message: `an origin is scheme://host[:port] with nothing after it (got ${value})`,
      });
      return z.NEVER;
    }
    return url.origin;
  })
  .meta({ example: 'https://app.example.com' });

export function originAllowed(allowed: readonly string[], origin: string): boolean {
  return allowed.includes(ANY_ORIGIN) || allowed.includes(origin);
}
