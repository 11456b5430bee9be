// /api/v1/devices: provision, list, show, update, delete, and rotate or revoke MQTT credentials.
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { requireRole } from '../auth/middleware.ts';
import type { ApiDeps, ApiEnv } from '../deps.ts';
import { AUTH_ERRORS, bearerSecurity, errorResponses, jsonBody, jsonResponse } from '../openapi.ts';
import { newRouter } from '../router.ts';
import {
  CreateDeviceBody,
  Credentials,
  DeviceDetail,
  DeviceIdParam,
  DeviceList,
  ListDevicesQuery,
  ProvisionedDevice,
  UpdateDeviceBody,
} from './schemas.ts';
import { DeviceStore, toDeviceDetail } from './store.ts';

const tags = ['devices'];
const common = { tags, security: bearerSecurity };

const createDevice = createRoute({
  ...common,
  method: 'post',
  path: '/',
  summary: 'Provision a device (operator). Returns its MQTT credentials once.',
  middleware: [requireRole('operator')] as const,
  request: { body: jsonBody(CreateDeviceBody) },
  responses: {
    201: jsonResponse(ProvisionedDevice, 'The device and its one-time credentials'),
    ...errorResponses(...AUTH_ERRORS, 409, 413),
  },
});

const listDevices = createRoute({
  ...common,
  method: 'get',
  path: '/',
  summary: 'List devices (viewer), filtered and paginated by cursor or offset',
  middleware: [requireRole('viewer')] as const,
  request: { query: ListDevicesQuery },
  responses: {
    200: jsonResponse(DeviceList, 'A page of devices, ordered by id'),
    ...errorResponses(...AUTH_ERRORS),
  },
});

const showDevice = createRoute({
  ...common,
  method: 'get',
  path: '/{id}',
  summary: 'Show a device (viewer): reported state, last seen, active model',
  middleware: [requireRole('viewer')] as const,
  request: { params: DeviceIdParam },
  responses: { 200: jsonResponse(DeviceDetail, 'The device'), ...errorResponses(...AUTH_ERRORS, 404) },
});

const updateDevice = createRoute({
  ...common,
  method: 'patch',
  path: '/{id}',
  summary: 'Change group, tags or display name (operator)',
  middleware: [requireRole('operator')] as const,
  request: { params: DeviceIdParam, body: jsonBody(UpdateDeviceBody) },
  responses: {
    200: jsonResponse(DeviceDetail, 'The updated device'),
    ...errorResponses(...AUTH_ERRORS, 404, 413),
  },
});

const deleteDevice = createRoute({
  ...common,
  method: 'delete',
  path: '/{id}',
  summary: 'Delete a device and its credentials (operator)',
  middleware: [requireRole('operator')] as const,
  request: { params: DeviceIdParam },
  responses: { 204: { description: 'Deleted' }, ...errorResponses(...AUTH_ERRORS, 404) },
});

const rotateCredentials = createRoute({
  ...common,
  method: 'post',
  path: '/{id}/credentials/rotate',
  summary: 'Issue new MQTT credentials and revoke the old ones (operator)',
  middleware: [requireRole('operator')] as const,
  request: { params: DeviceIdParam },
  responses: {
    200: jsonResponse(Credentials, 'The new one-time credentials'),
    ...errorResponses(...AUTH_ERRORS, 404),
  },
});

const revokeCredentials = createRoute({
  ...common,
  method: 'post',
  path: '/{id}/credentials/revoke',
  summary: 'Revoke the MQTT credentials: the device can no longer connect (operator)',
  middleware: [requireRole('operator')] as const,
  request: { params: DeviceIdParam },
  responses: {
    200: jsonResponse(z.object({ deviceId: z.string(), revoked: z.literal(true) }), 'Revoked'),
    ...errorResponses(...AUTH_ERRORS, 404),
  },
});

/** Who did it, for the audit events identity writes. */
function actorOf(c: Context<ApiEnv>): string {
  return `token:${c.get('principal').tokenId}`;
}

export function deviceRoutes(deps: ApiDeps) {
  const store = new DeviceStore(deps.db, deps.now);
  const brokerUrls = deps.brokerUrls;

  return newRouter()
    .openapi(createDevice, async (c) => {
      const body = c.req.valid('json');
      if (body.group) await store.assertGroupExists(body.group);
      const { device, credentials } = await deps.identity.provisionDevice(
        {
          ...(body.id ? { id: body.id } : {}),
          ...(body.group ? { group: body.group } : {}),
          tags: body.tags ?? [],
          deviceClass: body.deviceClass,
          ...(body.displayName ? { displayName: body.displayName } : {}),
        },
        actorOf(c),
      );
      c.get('logger').info({ deviceId: device.id, deviceClass: device.deviceClass }, 'device provisioned');
      const detail = toDeviceDetail(await store.get(device.id));
      return c.json(
        { device: detail, credentials: { deviceId: device.id, ...credentials, brokerUrls } },
        201,
      );
    })
    .openapi(listDevices, async (c) => c.json(await store.list(c.req.valid('query')), 200))
    .openapi(showDevice, async (c) => c.json(toDeviceDetail(await store.get(c.req.valid('param').id)), 200))
    .openapi(updateDevice, async (c) => {
      const row = await store.update(c.req.valid('param').id, c.req.valid('json'));
      return c.json(toDeviceDetail(row), 200);
    })
    .openapi(deleteDevice, async (c) => {
      const { id } = c.req.valid('param');
      // Revoke first, so a connected device is cut off even if the delete then fails.
      await deps.identity.revokeCredentials(id, actorOf(c));
      await store.delete(id);
      c.get('logger').info({ deviceId: id }, 'device deleted');
      return c.body(null, 204);
    })
    .openapi(rotateCredentials, async (c) => {
      const { id } = c.req.valid('param');
      const credentials = await deps.identity.rotateCredentials(id, actorOf(c));
      c.get('logger').info({ deviceId: id }, 'device credentials rotated');
      return c.json({ deviceId: id, ...credentials, brokerUrls }, 200);
    })
    .openapi(revokeCredentials, async (c) => {
      const { id } = c.req.valid('param');
      await deps.identity.revokeCredentials(id, actorOf(c));
      c.get('logger').info({ deviceId: id }, 'device credentials revoked');
      return c.json({ deviceId: id, revoked: true as const }, 200);
    });
}
