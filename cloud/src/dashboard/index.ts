export { DASHBOARD_PATH } from './page.ts';
export { dashboardRoutes } from './routes.ts';
