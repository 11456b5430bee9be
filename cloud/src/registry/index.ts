export { ALIAS_REMOVED_EVENT, ALIAS_SET_EVENT } from './aliases.ts';
export {
  type ArtifactStore,
  type ByteRange,
  FsArtifactStore,
  type StoredArtifact,
  sha256Hex,
} from './artifact-store.ts';
export {
  type CreateModelInput,
  MODEL_CREATED_EVENT,
  ModelRegistry,
  type ModelRegistryOptions,
  VERSION_REGISTERED_EVENT,
} from './model-registry.ts';
export { type OpenedModelRegistry, openModelRegistry } from './open-registry.ts';
export type {
  AliasChange,
  ModelDetail,
  ModelRecord,
  ModelSummary,
  VariantRecord,
  VersionRecord,
} from './records.ts';
export {
  type ArtifactCheck,
  aliasNameSchema,
  type ManifestFields,
  type ModelLineage,
  manifestFieldsSchema,
  modelLineageSchema,
  type RegisterVersionInput,
  registerVersionInputSchema,
  type VariantInput,
} from './registration.ts';
export {
  keyIdOf,
  type ManifestSigner,
  type PublicSigningKey,
  SIGNING_KEY_FILE,
  SigningKeys,
  verifyManifest,
} from './signing-keys.ts';
