// Static serving for browsers: onnxruntime-web's wasm build, the web SDK bundle, the demo page.
export { DEMO_HEADERS } from './demo-page.ts';
export { findOrtDist, ORT_FILES, OrtFiles } from './ort-files.ts';
export { type WebRoutesOptions, webRoutes } from './routes.ts';
export { bundleWebSdk, SDK_BUNDLE_PATH } from './sdk-bundle.ts';
