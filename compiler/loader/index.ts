/**
 * Public surface of the loader. Everything native stays behind loader.ts; the
 * raw libbpf binding is deliberately not re-exported.
 */
export { loadObject, LoadError, BpfError } from "./loader";
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
