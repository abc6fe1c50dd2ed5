export { createClient, OtaClient } from "./client";
export { SERVER_LIMITS } from "./options";
export type { AppStateLike, ClientError, ClientOptions, ClientStats, Clock, FlushResult } from "./options";
export { LifecycleEvents } from "./events";
export { ABNORMAL_EXIT, ABNORMAL_EXIT_MESSAGE, JS_FATAL } from "./session";
export type { LaunchFields, LaunchResult } from "./session";
export { crashMessage, MAX_MESSAGE } from "./crash";
export type { ErrorUtilsLike, GlobalHandler } from "./crash";
export type { UpdateFields } from "./events";
export { AirborneAdapter, createAirborneAdapter, mapAirborneEvent } from "./airborne";
export type { AirborneEvent, MappedEvent, Tracker } from "./airborne";
export { MemoryStorage } from "./storage";
export type { StorageAdapter } from "./storage";
export { DEFAULT_BACKOFF, fullJitter, parseRetryAfter, retryDelay } from "./backoff";
export type { BackoffPolicy } from "./backoff";
export { uuidV4 } from "./ids";
export type { IdGenerator } from "./ids";
export type { FetchLike, FieldError, Rejection, RequestLike, ResponseLike } from "./transport";
export { EVENT_TYPES } from "./types";
export type {
  DeviceInfo,
  ErrorInfo,
  EventFields,
  EventType,
  NetworkInfo,
  OtaEvent,
  PerformanceMetrics,
  ReleaseInfo,
} from "./types";
