export type { GossipServer, ServerList, GossipMessage, ControlMessage } from './types.js';
export {
  shazbotStart,
  shazbotShutDown,
  shazbotGossipRequest,
  shazbotListRequest,
  shazbotControlRequest,
  getDefaultCluster,
  shazbotOn,
  shazbotStatus,
  shazbotHealth,
  shazbotServers,
  shazbotOnlineServers,
  shazbotOfflineServers,
  shazbotServer,
  shazbotSelf,
  shazbotInfoRequest,
} from './default-instance.js';
export { createCluster, type Cluster, type ClusterDeps } from './engine/cluster.js';
export { EXTENSION_NAME, type EngineExtension, type ExtensionHost, type ExchangeKind } from './engine/extension.js';
export type { ClusterEvents, ClusterStatus } from './engine/events.js';
export type { ClusterInfo, ClusterStats, ConfigSummary, HealthReport, ServerInfo } from './engine/info.js';
export { resolveOptions, optionsFromEnv, DEFAULTS, type ClusterOptions, type ResolvedConfig, type EnvConfig } from './config.js';
export {
  ShazbotError, ConfigError, MalformedError, UnauthorizedError, TooLargeError, NotStartedError, isShazbotError,
  type ShazbotErrorCode,
} from './errors.js';
export type { MemberEntry, ServerState, OfflineReason } from './membership/entry.js';
export { ManualClock, type Clock, type TimerHandle } from './core/clock.js';
export { systemClock } from './core/system-clock.js';
export { seededRandom, type Random } from './core/random.js';
export { cryptoRandom } from './core/system-random.js';
export { consoleLogger, silentLogger, type Logger, type LogLevel, type LogFields } from './core/logger.js';
export { createHttpTransport } from './core/http-transport.js';
export { TransportError, type Transport, type TransportRequest, type TransportResponse } from './core/transport.js';
export { startMasterListStore, type MasterListStore, type MasterListStoreOptions } from './master-list/store.js';
export { shazbotMap, shazbotCounter, shazbotStateReady } from './default-state.js';
export type {
  JsonValue, Version, Consistency, WriteOptions, WriteResult, CreateResult, Entry, ChangeOrigin, Change, MapOptions, ReadOptions,
  StateMap, StateCounter, ReplicatedState,
} from './state/types.js';
export { KeyNotFoundError, VersionMismatchError, LimitExceededError, WriteTimeoutError, StaleReadError } from './state/errors.js';
export { memoryStateStore, type StateStore, type StoredMeta, type StoredRecord, type LoadedState } from './state/store.js';
export { openFileStateStore, StoreCorruptError, StoreLockedError, type FileStateStore, type FileStateStoreOptions } from './state/file-store.js';
export { STATE_DEFAULTS, type StateOptions } from './state/replica.js';
export type { StateSettings } from './state/replica-core.js';
export type { StateInfo, MapInfo } from './state/state-info.js';
