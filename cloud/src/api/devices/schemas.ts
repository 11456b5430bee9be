// HTTP bodies of the device routes. Request bodies are strict (an unknown field is a typo or an
// attack, and silently ignoring it would make the caller believe it was applied).
import { deviceIdSchema, modelRefSchema } from '@edgeloop/shared';
import { z } from 'zod';
import { isoTimestamp } from '../openapi.ts';

/** Group names share the device-id alphabet: they appear in URLs and rollout targets. */
export const groupNameSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'group name must match [a-z0-9][a-z0-9_-]{0,63}')
  .meta({ example: 'line-3' });

export const tagSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_.:=-]{0,63}$/, 'tag must match [a-z0-9][a-z0-9_.:=-]{0,63}')
  .meta({ example: 'site:berlin' });

const tagsSchema = z
  .array(tagSchema)
  .max(32)
  .refine((tags) => new Set(tags).size === tags.length, 'tags must be unique');

export const deviceStatusSchema = z.enum(['online', 'offline', 'unknown']);

export const DeviceId = deviceIdSchema.meta({ example: 'cam-0001' });

export const CreateDeviceBody = z
  .strictObject({
    /** Omitted: the cloud assigns `dev-<random>`. */
    id: DeviceId.optional(),
    deviceClass: z.string().min(1).max(64).meta({ example: 'raspberry-pi-4' }),
    group: groupNameSchema.nullable().optional(),
    tags: tagsSchema.optional(),
    displayName: z.string().max(200).optional(),
  })
  .meta({ id: 'CreateDevice' });

export const UpdateDeviceBody = z
  .strictObject({
    group: groupNameSchema.nullable().optional(),
    tags: tagsSchema.optional(),
    displayName: z.string().max(200).optional(),
  })
  .refine((body) => Object.keys(body).length > 0, 'give at least one of group, tags, displayName')
  .meta({ id: 'UpdateDevice' });

export const Device = z
  .object({
    id: DeviceId,
    deviceClass: z.string(),
    group: z.string().nullable(),
    tags: z.array(z.string()),
    displayName: z.string(),
    status: deviceStatusSchema,
    lastSeenAt: isoTimestamp.nullable(),
    agentVersion: z.string().nullable(),
    /** From the last valid reported state. */
    activeModel: modelRefSchema.nullable(),
    createdAt: isoTimestamp,
    updatedAt: isoTimestamp,
  })
  .meta({ id: 'Device' });

export const DeviceDetail = Device.extend({
  bootId: z.string().nullable(),
  /** The device's last reported state (shared ReportedState contract), as received. */
  reported: z.unknown().nullable(),
  desiredGeneration: z.number().int(),
}).meta({ id: 'DeviceDetail' });

export const ListDevicesQuery = z
  .strictObject({
    group: groupNameSchema.optional(),
    tag: tagSchema.optional(),
    class: z.string().min(1).max(64).optional(),
    status: deviceStatusSchema.optional(),
    limit: z.coerce.number().int().min(1).max(500).default(100),
    /** Opaque; from the previous page's `nextCursor`. */
    cursor: z.string().max(200).optional(),
    offset: z.coerce.number().int().min(0).max(1_000_000).optional(),
  })
  .refine((q) => q.cursor === undefined || q.offset === undefined, {
    message: 'use either cursor or offset, not both',
    path: ['cursor'],
  });

export const DeviceList = z
  .object({
    items: z.array(Device),
    /** Devices matching the filters, over all pages. */
    total: z.number().int(),
    nextCursor: z.string().nullable(),
  })
  .meta({ id: 'DeviceList' });

export const Credentials = z
  .object({
    deviceId: DeviceId,
    username: z.string(),
    /** Shown once; only a hash is stored. */
    password: z.string(),
    brokerUrls: z.object({ tcp: z.string().optional(), ws: z.string().optional() }),
  })
  .meta({ id: 'DeviceCredentials' });

export const ProvisionedDevice = z
  .object({ device: DeviceDetail, credentials: Credentials })
  .meta({ id: 'ProvisionedDevice' });

export const DeviceIdParam = z.object({ id: DeviceId.meta({ param: { name: 'id', in: 'path' } }) });

export type DeviceView = z.infer<typeof Device>;
export type DeviceDetailView = z.infer<typeof DeviceDetail>;
export type ListDevicesFilter = z.infer<typeof ListDevicesQuery>;
