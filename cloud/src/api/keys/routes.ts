// GET /api/v1/keys: the cloud's Ed25519 public keys, which devices and the web SDK pin to verify
// model manifests. Public keys are public: no token is needed (app.ts lets this path through
// authentication), and a client that sends its app key anyway is served the same.
import { publicKeySetSchema } from '@edgeloop/shared';
import { createRoute } from '@hono/zod-openapi';
import type { ModelApiDeps } from '../deps.ts';
import { jsonResponse } from '../openapi.ts';
import { newRouter } from '../router.ts';

export const PUBLIC_KEYS_PATH = '/api/v1/keys';

const listKeys = createRoute({
  method: 'get',
  path: '/',
  tags: ['models'],
  summary: 'The signing public keys (no authentication): raw Ed25519, base64, with their key ids',
  responses: { 200: jsonResponse(publicKeySetSchema.meta({ id: 'PublicKeySet' }), 'The keys') },
});

export function keyRoutes(models: ModelApiDeps) {
  return newRouter().openapi(listKeys, (c) => {
    // Keys change only when an operator rotates them; a short cache spares clients a round trip.
    c.header('Cache-Control', 'public, max-age=300');
    return c.json({ keys: models.publicKeys() }, 200);
  });
}
