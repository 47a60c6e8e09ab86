/**
 * Public surface of the loader. Everything native stays behind loader.ts; the
 * raw libbpf binding is deliberately not re-exported.
 */
export { loadObject, LoadError, BpfError } from "./loader";
export { deviceBoundKfuncs } from "./device-bound";
export type {
  LoadOptions,
  LoadedObject,
  LoadedProgram,
  ProgramInfo,
  TestRunOptions,
  TestRunResult,
  XdpActionName,
} from "./loader";
export { LibbpfNotFoundError } from "./libbpf";
export { RodataError } from "./rodata";
export type { RodataValue } from "./rodata";
export { u32Key, u64Value, sumPerCpu } from "./maps";
export type { LoadedMap, MapInfo, MapUpdateFlag } from "./maps";
export { openRingBuffer } from "./ringbuf";
export type { RingBufferOptions, RingBufferReader, RingRecord } from "./ringbuf";
export { openPerfBuffer } from "./perfbuf";
export type { PerfBufferOptions, PerfBufferReader, PerfRecord } from "./perfbuf";
export type { EntryProgram, RedirectEntry, RedirectEntryValue } from "./redirect-entries";
export { explainRejection, formatRejection, parseVerifierLog, rejectionDiagnostic } from "./verifier-log";
export type { Annotation, RejectedLoad, RejectionReport, VerifierLogFacts } from "./verifier-log";
export { attachXdp, detachXdp, describeAttachedProgram, offloadRefusal, xdpStatus, attachedPrograms, AttachError, checkBeforeAttach, explainAttachFailure, VETH_XDP_MAX_MTU } from "./attach";
export type {
  AttachOptions,
  AttachMethod,
  AttachErrorKind,
  AttachFacts,
  Attachment,
  AttachableProgram,
  AttachedProgram,
  DetachOptions,
  DetachResult,
  DeviceStatus,
  XdpMode,
} from "./attach";
export { findDevice, listDevices, xdpFeatures, receiveOffloads, decodeXdpFeatures } from "./netdev";
export type { DeviceInfo, XdpFeatures, XdpFeatureName, ReceiveOffloads } from "./netdev";
export { loadedProgramIds } from "./bpf-objects";
