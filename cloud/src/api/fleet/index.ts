export { deviceTelemetryRoutes, fleetRoutes } from './routes.ts';
