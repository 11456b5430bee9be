// Every API router is made here, so each one rejects invalid input the same way: zod failures are
// thrown as VALIDATION_FAILED with field paths and end in the central error handler.
import { OpenAPIHono } from '@hono/zod-openapi';
import type { ApiEnv } from './deps.ts';
import { validationError } from './errors.ts';

export function newRouter(): OpenAPIHono<ApiEnv> {
  return new OpenAPIHono<ApiEnv>({
    defaultHook: (result) => {
      if (!result.success) throw validationError(result.error, result.target);
    },
  });
}
